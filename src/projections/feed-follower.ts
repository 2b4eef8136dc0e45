import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { DomainEvent } from '../events/index.ts';
import { FeedLag } from './feed-lag.ts';

/** A stored message as the event store delivers it, undecoded, so unreadable ones can be recorded. */
export interface RawStoredMessage {
  seq: number;
  subject: string;
  data: Uint8Array;
  /**
   * Messages left in the stream after this one, as the server counted them when it delivered it. A hint
   * for batching only: nats-server 2.9 miscounts it (too high and too low) for a consumer that starts in
   * the middle of a stream, so nothing that must happen may wait for it.
   */
  pending: number;
  /** The event already decoded and checked against its schema (this process appended these bytes). */
  checked?: DomainEvent;
}

/** What the follower reads: the event store, structurally (projections do not import the NATS adapter). */
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

/** What the follower knows, for readiness and metrics. Sequences are stream sequences. */
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

export interface FeedFollowerOptions {
  source: FeedSource;
  /** The first sequence to apply. */
  fromSeq: number;
  /**
   * Applies messages in order, in one batch; returns how many it applied (it may stop early, e.g. at a
   * time cap). A throw is final: the follower stops and `run()` rejects with it.
   */
  apply(messages: readonly RawStoredMessage[]): number;
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

/** A feed that could not start is tried again after these delays (the last repeats). */
const RETRY_MS = [250, 500, 1000, 2000, 5000] as const;

/**
 * Follows the stream and hands what it delivers to `apply`, in batches, so that whatever arrived is
 * applied within a bounded time whatever the server reports:
 *
 * - At the tail (the server says nothing is pending, or nothing beyond this delivery is known) the batch
 *   is applied at the end of the event-loop turn, after the turn's command replies and appends are
 *   written (`afterSends`): no request waits behind a fold it does not need.
 * - Behind the tail a batch fills up to `maxBatch`, but never waits longer than `maxHoldMs`: a replay
 *   builds big batches, and a miscounted `pending` costs at most that hold, never a freeze.
 * - A watchdog compares what was applied, what was delivered and what the stream is known to hold (this
 *   process's acknowledged appends, and the stream's last sequence asked every `probeIntervalMs`). A feed
 *   that stays quiet for `stallMs` while the stream holds more is started again from where it stood: the
 *   gap closes within seconds even on an idle system (nats.js can leave an ordered consumer silent for
 *   about 30 s after a 409, and a consumer can be lost with a server restart).
 *
 * The status (applied, delivered, known stream end, lag as time) is what readiness is decided on.
 */
export class FeedFollower {
  readonly #source: FeedSource;
  readonly #apply: (messages: readonly RawStoredMessage[]) => number;
  readonly #maxBatch: number;
  readonly #maxHoldMs: number;
  readonly #stallMs: number;
  readonly #probeIntervalMs: number;
  readonly #watchIntervalMs: number;
  readonly #onStall: ((stall: FeedStall) => void) | undefined;
  readonly #onFeedError: ((error: unknown) => void) | undefined;
  readonly #stopOnFeedError: boolean;
  readonly #now: () => number;
  readonly #afterSends: (work: () => void) => void;
  readonly #stop = new AbortController();
  readonly #lag: FeedLag;

  #state: FeedState = 'following';
  #buffer: RawStoredMessage[] = [];
  #appliedSeq: number;
  #deliveredSeq: number;
  #streamSeq: number;
  #lastDeliveryAt: number;
  #restarts = 0;
  #failure: { error: unknown } | null = null;
  /** The current feed; aborting it (a stall) makes the loop start a new one. */
  #attempt: AbortController | null = null;
  #flushScheduled = false;
  #holdTimer: NodeJS.Timeout | null = null;
  #watchdog: NodeJS.Timeout | null = null;
  #probing = false;
  #probeAgain = false;
  #lastProbeAt = Number.NEGATIVE_INFINITY;
  #probedAt: number | null = null;

  constructor(opts: FeedFollowerOptions) {
    this.#source = opts.source;
    this.#apply = opts.apply;
    this.#maxBatch = opts.maxBatch ?? 500;
    this.#maxHoldMs = opts.maxHoldMs ?? 20;
    this.#stallMs = opts.stallMs ?? 2_000;
    this.#probeIntervalMs = opts.probeIntervalMs ?? 1_000;
    this.#watchIntervalMs = opts.watchIntervalMs ?? 250;
    this.#onStall = opts.onStall;
    this.#onFeedError = opts.onFeedError;
    this.#stopOnFeedError = opts.stopOnFeedError ?? false;
    this.#now = opts.now ?? Date.now;
    this.#afterSends = opts.afterSends ?? setImmediate;
    this.#appliedSeq = Math.max(0, opts.fromSeq - 1);
    this.#deliveredSeq = this.#appliedSeq;
    this.#streamSeq = this.#appliedSeq;
    this.#lag = new FeedLag(this.#appliedSeq);
    this.#lastDeliveryAt = this.#now();
  }

  status(): FeedStatus {
    const now = this.#now();
    return {
      state: this.#state,
      appliedSeq: this.#appliedSeq,
      deliveredSeq: this.#deliveredSeq,
      streamSeq: this.#streamSeq,
      lagMs: this.#lag.lagMs(now),
      probedAt: this.#probedAt,
      restarts: this.#restarts,
    };
  }

  /**
   * Follows until `stop()`; rejects with the error of a failed `apply` (the read model can no longer be
   * trusted: the caller stops serving). An unreachable stream is not a failure: it is waited out.
   */
  async run(): Promise<void> {
    this.#watchdog = setInterval(() => this.#watch(), this.#watchIntervalMs);
    this.#watchdog.unref();
    this.#probe();
    let failures = 0;
    try {
      while (!this.#stop.signal.aborted && this.#failure === null) {
        const attempt = new AbortController();
        this.#attempt = attempt;
        const signal = AbortSignal.any([this.#stop.signal, attempt.signal]);
        this.#lastDeliveryAt = this.#now();
        try {
          for await (const delivered of this.#source.consumeBatches(this.#deliveredSeq + 1, { signal })) {
            if (signal.aborted || this.#failure !== null) break;
            failures = 0;
            await this.#receive(delivered);
          }
        } catch (error) {
          if (this.#stop.signal.aborted || this.#failure !== null) break;
          if (this.#stopOnFeedError) {
            this.fail(error);
            break;
          }
          this.#onFeedError?.(error);
        }
        if (this.#stop.signal.aborted || this.#failure !== null) break;
        // Started again at once after a stall; after a feed that failed or ended by itself, a pause.
        if (!attempt.signal.aborted)
          await this.#pause(RETRY_MS[Math.min(failures++, RETRY_MS.length - 1)] ?? 5_000);
      }
    } finally {
      this.#clearTimers();
      this.#state = this.#failure === null ? 'stopped' : 'failed';
    }
    if (this.#failure !== null) throw this.#failure.error;
  }

  /** Stops following; what was received and not applied yet is dropped (the stream still holds it). */
  stop(): void {
    this.#stop.abort();
    this.#clearTimers();
  }

  /** Ends the follower with `error` (e.g. the caller's commit failed): `run()` rejects with it. */
  fail(error: unknown): void {
    this.#failure ??= { error };
    this.#state = 'failed';
    this.#attempt?.abort();
    this.#clearTimers();
  }

  /** Asks the stream for its last sequence now (e.g. after a reconnect) rather than at the next interval. */
  probeNow(): void {
    if (this.#probing) this.#probeAgain = true;
    else this.#probe();
  }

  async #receive(delivered: readonly RawStoredMessage[]): Promise<void> {
    let newest: RawStoredMessage | undefined;
    for (const message of delivered) {
      if (message.seq <= this.#deliveredSeq) continue;
      this.#deliveredSeq = message.seq;
      this.#buffer.push(message);
      newest = message;
    }
    if (newest === undefined) return;
    const now = this.#now();
    this.#lastDeliveryAt = now;
    if (this.#state === 'stalled') this.#state = 'following';
    // Whether the stream holds more than this delivery, from what this process knows (its own acknowledged
    // appends run ahead of their deliveries under load), not from the server's count.
    const moreKnown = Math.max(this.#streamSeq, this.#source.ackedSeq ?? 0) > newest.seq;
    if (newest.seq > this.#streamSeq) this.#streamSeq = newest.seq;
    this.#lag.note(newest.seq, now);
    if (this.#buffer.length >= this.#maxBatch) {
      // Behind the tail: apply in full batches, yielding between them so requests are still served.
      while (this.#buffer.length > 0 && this.#failure === null) {
        this.#applyBuffered();
        if (this.#buffer.length > 0) await yieldToEventLoop();
      }
      return;
    }
    if (newest.pending === 0 || !moreKnown) this.#scheduleFlush();
    else this.#holdAtMost();
  }

  #applyBuffered(): void {
    if (this.#holdTimer !== null) {
      clearTimeout(this.#holdTimer);
      this.#holdTimer = null;
    }
    if (this.#buffer.length === 0 || this.#failure !== null || this.#stop.signal.aborted) return;
    let count: number;
    try {
      count = this.#apply(this.#buffer);
    } catch (error) {
      this.#buffer = [];
      this.fail(error);
      return;
    }
    const last = this.#buffer[count - 1];
    this.#buffer = count >= this.#buffer.length ? [] : this.#buffer.slice(count);
    if (last === undefined) return;
    this.#appliedSeq = last.seq;
    this.#lag.applied(last.seq);
  }

  /** Applies at the end of this event-loop turn, after its sends (`afterSends`). */
  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    this.#afterSends(() => {
      this.#flushScheduled = false;
      this.#applyBuffered();
      if (this.#buffer.length > 0) this.#scheduleFlush();
    });
  }

  /** Waits for more to fill the batch, but no longer than maxHoldMs. */
  #holdAtMost(): void {
    if (this.#holdTimer !== null || this.#flushScheduled) return;
    this.#holdTimer = setTimeout(() => {
      this.#holdTimer = null;
      this.#scheduleFlush();
    }, this.#maxHoldMs);
  }

  #watch(): void {
    if (this.#stop.signal.aborted || this.#failure !== null) return;
    const now = this.#now();
    const acked = this.#source.ackedSeq ?? 0;
    if (acked > this.#streamSeq) {
      this.#streamSeq = acked;
      this.#lag.note(acked, now);
    }
    if (now - this.#lastProbeAt >= this.#probeIntervalMs) this.probeNow();
    // Nothing waits in the buffer without a flush or a hold on its way (a safety net; it should not fire).
    if (this.#buffer.length > 0 && !this.#flushScheduled && this.#holdTimer === null) this.#scheduleFlush();
    const connected = this.#source.connected ?? true;
    if (
      connected &&
      this.#streamSeq > this.#deliveredSeq &&
      now - this.#lastDeliveryAt >= this.#stallMs &&
      this.#attempt !== null &&
      !this.#attempt.signal.aborted
    ) {
      this.#state = 'stalled';
      this.#restarts += 1;
      this.#lastDeliveryAt = now;
      this.#onStall?.({ deliveredSeq: this.#deliveredSeq, streamSeq: this.#streamSeq });
      this.#attempt.abort();
    }
  }

  #probe(): void {
    if (this.#stop.signal.aborted) return;
    this.#probing = true;
    const askedAt = this.#now();
    this.#lastProbeAt = askedAt;
    this.#source
      .lastSeq()
      .then((tail) => {
        this.#probedAt = askedAt;
        if (tail > this.#streamSeq) this.#streamSeq = tail;
        this.#lag.note(tail, this.#now());
      })
      // Unreachable now: readiness sees the connection; the next probe asks again.
      .catch(() => {})
      .finally(() => {
        this.#probing = false;
        if (this.#probeAgain) {
          this.#probeAgain = false;
          this.#probe();
        }
      });
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.#stop.signal;
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  #clearTimers(): void {
    if (this.#watchdog !== null) clearInterval(this.#watchdog);
    this.#watchdog = null;
    if (this.#holdTimer !== null) clearTimeout(this.#holdTimer);
    this.#holdTimer = null;
  }
}
