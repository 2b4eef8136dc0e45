import { DEFAULT_STREAM_NAME, DEFAULT_SUBJECT_PREFIX } from '../events/index.ts';

/** Where the events live. Tests that share one server use a unique name and prefix each. */
export interface StoreSettings {
  /** The JetStream stream. Default: `AM_EVENTS`. */
  streamName: string;
  /** Subjects are `<prefix>.>`. Default: `am.evt`. */
  subjectPrefix: string;
  /** Stream replicas: 1 on a single node, 3 on a cluster. Default: 1. */
  replicas: number;
}

export const DEFAULT_STORE_SETTINGS: Readonly<StoreSettings> = Object.freeze({
  streamName: DEFAULT_STREAM_NAME,
  subjectPrefix: DEFAULT_SUBJECT_PREFIX,
  replicas: 1,
});

/** The msgID duplicate window (DESIGN.md "msgIDs"). */
export const DUPLICATE_WINDOW_MS = 2 * 60 * 1000;
