import {
  DiscardPolicy,
  JetStreamApiError,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { DUPLICATE_WINDOW_MS, type StoreSettings } from './stream-settings.ts';

/** The stream as DESIGN.md "The stream" fixes it: append-only, kept forever, direct gets allowed. */
export function streamConfig(settings: StoreSettings): StreamConfig {
  return {
    name: settings.streamName,
    subjects: [`${settings.subjectPrefix}.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: settings.replicas,
    discard: DiscardPolicy.Old,
    discard_new_per_subject: false,
    // 0 and -1 mean "no limit": the stream is the system of record and never forgets.
    max_age: 0,
    max_msgs: -1,
    max_msgs_per_subject: -1,
    max_bytes: -1,
    max_msg_size: -1,
    max_consumers: -1,
    duplicate_window: DUPLICATE_WINDOW_MS * 1_000_000,
    deny_delete: true,
    deny_purge: true,
    allow_direct: true,
    allow_rollup_hdrs: false,
    mirror_direct: false,
    sealed: false,
  } as StreamConfig; // StreamConfig lists fields of newer servers (first_seq, persist_mode, …); 2.9 must not get them.
}

/** The fields we own; anything else an operator set on the stream (placement, description) is kept. */
const MANAGED_FIELDS = [
  'subjects',
  'num_replicas',
  'discard',
  'max_age',
  'max_msgs',
  'max_msgs_per_subject',
  'max_bytes',
  'duplicate_window',
  'deny_delete',
  'deny_purge',
  'allow_direct',
] as const satisfies readonly (keyof StreamConfig)[];

const STREAM_NOT_FOUND = 10059;
const STREAM_NAME_IN_USE = 10058;

/**
 * Creates the stream, or updates the fields AM owns when they drifted. Idempotent and safe to run from
 * several processes at once (JetStream accepts an identical create; a lost race falls back to an update).
 */
export async function ensureStream(nc: NatsConnection, settings: StoreSettings): Promise<StreamInfo> {
  const jsm = await jetstreamManager(nc);
  const wanted = streamConfig(settings);
  const existing = await streamInfoOrNull(jsm, settings.streamName);
  if (existing === null) {
    try {
      return await jsm.streams.add(wanted);
    } catch (error) {
      if (!(error instanceof JetStreamApiError && error.code === STREAM_NAME_IN_USE)) throw error;
    }
  }
  const current = existing ?? (await jsm.streams.info(settings.streamName));
  if (MANAGED_FIELDS.every((field) => sameValue(current.config[field], wanted[field]))) return current;
  const update: Partial<StreamConfig> = { ...current.config };
  for (const field of MANAGED_FIELDS) Object.assign(update, { [field]: wanted[field] });
  return jsm.streams.update(settings.streamName, update);
}

async function streamInfoOrNull(jsm: JetStreamManager, name: string): Promise<StreamInfo | null> {
  try {
    return await jsm.streams.info(name);
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === STREAM_NOT_FOUND) return null;
    throw error;
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  // The server omits false booleans and zero limits from the config it returns.
  return (a ?? false) === (b ?? false) || ((a ?? 0) === 0 && (b ?? 0) === 0);
}
