import type { RawStoredMessage } from '../events/index.ts';

export type { RawStoredMessage };

/** What a feed reads: the event store, structurally (projections do not import the NATS adapter). */
export interface FeedSource {
  /** The live feed from `fromSeq`, in arrays of the messages delivered together; ends when `signal` aborts. */
  consumeBatches(fromSeq: number, opts?: { signal?: AbortSignal }): AsyncIterable<RawStoredMessage[]>;
  /** The stream's last sequence (a request to the server). */
  lastSeq(): Promise<number>;
  /** The highest sequence an append of this process was acknowledged with, without I/O. */
  readonly ackedSeq?: number;
  /** Whether the connection to the stream is up right now, without I/O. Absent: assumed up. */
  readonly connected?: boolean;
}

/** A feed that went quiet although the stream holds more: what it had, and how far the stream is known to reach. */
export interface FeedStall {
  deliveredSeq: number;
  streamSeq: number;
}

export type FeedState = 'following' | 'stalled' | 'failed' | 'stopped';

/** What a feed knows, for readiness and metrics. Sequences are stream sequences. */
export interface FeedStatus {
  state: FeedState;
  /** The last sequence applied. */
  appliedSeq: number;
  /** The last sequence received from the feed (applied or waiting to be). */
  deliveredSeq: number;
  /** The highest sequence known to be in the stream: deliveries, own acknowledged appends, probes. */
  streamSeq: number;
  /** How long the oldest event known but not applied has been known (0 when caught up). */
  lagMs: number;
  /** When the last answered probe of the stream's last sequence was sent (epoch ms); null before one. */
  probedAt: number | null;
  /** Times the feed was started again because it had stalled. */
  restarts: number;
}

/**
 * Where a feed's batches go. `apply` takes the messages in order and returns how many it applied (it may
 * stop early, e.g. at a time cap) — at once (the SQLite read model) or as a promise (a sink over the
 * network, e.g. a Postgres read model with a checkpoint of its own). A throw or a rejection is final.
 */
export type FeedSink = (messages: readonly RawStoredMessage[]) => number | Promise<number>;

export interface FeedFollowerOptions {
  source: FeedSource;
  /** The first sequence to apply. */
  fromSeq: number;
  /** Where batches go (the SQLite commit window, or an asynchronous sink); see FeedSink. */
  apply: FeedSink;
  /** A buffer this full is applied at once, whatever else. Default 500. */
  maxBatch?: number;
  /**
   * The longest a received event waits to be applied while the stream is known to hold more (a replay or
   * a burst, when waiting builds bigger batches). Default 20 ms.
   */
  maxHoldMs?: number;
  /** A feed that delivered nothing for this long while the stream is known to hold more is started again. Default 2000 ms. */
  stallMs?: number;
  /** How often the stream's last sequence is asked. Default 1000 ms. */
  probeIntervalMs?: number;
  /** How often the watchdog looks. Default 250 ms. */
  watchIntervalMs?: number;
  /** Told when a stalled feed is started again. */
  onStall?: (stall: FeedStall) => void;
  /** Told when the feed could not be started (NATS unreachable, no stream leader); it is tried again. */
  onFeedError?: (error: unknown) => void;
  /**
   * Whether a feed that fails ends the follower (`run()` rejects) instead of being tried again: for a
   * one-shot replay that should report an unreachable stream rather than wait for it. Default false.
   */
  stopOnFeedError?: boolean;
  /**
   * Runs `work` at the end of this event-loop turn, after the turn's command replies and appends are
   * written (the node's TurnEnd). Default: setImmediate.
   */
  afterSends?: (work: () => void) => void;
  /** Default `Date.now`. */
  now?: () => number;
}
