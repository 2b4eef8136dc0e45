import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type {
  FeedFollowerOptions,
  FeedSink,
  FeedSource,
  FeedStall,
  FeedState,
  FeedStatus,
  RawStoredMessage,
} from './feed-source.ts';
import { StreamWatch } from './stream-watch.ts';

/**
 * Behind the known stream end by at most this many events counts as at the tail: applied at the end of
 * the turn rather than held to fill a batch (a server's own appends in flight are about its claimers).
 */
const NEAR_TAIL_EVENTS = 256;

/** A feed that could not start is tried again after these delays (the last repeats). */
const RETRY_MS = [250, 500, 1000, 2000, 5000] as const;

/**
 * Follows the stream and hands what it delivers to its sink, in batches, so that whatever arrived is
 * applied within a bounded time whatever the server reports:
 *
 * - At the tail (the server says nothing is pending, or nothing beyond this delivery is known) the batch
 *   is applied at the end of the event-loop turn, after the turn's command replies and appends are
 *   written (`afterSends`): no request waits behind a fold it does not need.
 * - Further behind (more than NEAR_TAIL_EVENTS) a batch fills up to `maxBatch`, but never waits longer than `maxHoldMs`: a replay
 *   builds big batches, and a miscounted `pending` costs at most that hold, never a freeze.
 * - A watchdog compares what was applied, what was delivered and what the stream is known to hold
 *   (StreamWatch). A feed that stays quiet for `stallMs` while the stream holds more is started again from
 *   where it stood: the gap closes within seconds even on an idle system (nats.js can leave an ordered
 *   consumer silent for about 30 s after a 409, and does not always resume one after a nats-server crash).
 * - An asynchronous sink gets one batch at a time; what arrives meanwhile waits for the next.
 *
 * The status (applied, delivered, known stream end, lag as time) is what readiness is decided on.
 */
export class FeedFollower {
  readonly #source: FeedSource;
  readonly #sink: FeedSink;
  readonly #maxBatch: number;
  readonly #maxHoldMs: number;
  readonly #stallMs: number;
  readonly #watchIntervalMs: number;
  readonly #onStall: ((stall: FeedStall) => void) | undefined;
  readonly #onFeedError: ((error: unknown) => void) | undefined;
  readonly #stopOnFeedError: boolean;
  readonly #now: () => number;
  readonly #afterSends: (work: () => void) => void;
  readonly #stop = new AbortController();
  readonly #stream: StreamWatch;

  #state: FeedState = 'following';
  #buffer: RawStoredMessage[] = [];
  #appliedSeq: number;
  #deliveredSeq: number;
  #lastDeliveryAt: number;
  #restarts = 0;
  #failure: { error: unknown } | null = null;
  /** The current feed; aborting it (a stall) makes the loop start a new one. */
  #attempt: AbortController | null = null;
  #flushScheduled = false;
  #holdTimer: NodeJS.Timeout | null = null;
  #watchdog: NodeJS.Timeout | null = null;
  /** An asynchronous sink's batch on its way. */
  #applying: Promise<void> | null = null;

  constructor(opts: FeedFollowerOptions) {
    this.#source = opts.source;
    this.#sink = opts.apply;
    this.#maxBatch = opts.maxBatch ?? 500;
    this.#maxHoldMs = opts.maxHoldMs ?? 20;
    this.#stallMs = opts.stallMs ?? 2_000;
    this.#watchIntervalMs = opts.watchIntervalMs ?? 250;
    this.#onStall = opts.onStall;
    this.#onFeedError = opts.onFeedError;
    this.#stopOnFeedError = opts.stopOnFeedError ?? false;
    this.#now = opts.now ?? Date.now;
    this.#afterSends = opts.afterSends ?? setImmediate;
    this.#appliedSeq = Math.max(0, opts.fromSeq - 1);
    this.#deliveredSeq = this.#appliedSeq;
    this.#stream = new StreamWatch(opts.source, opts.probeIntervalMs ?? 1_000, this.#now, this.#appliedSeq);
    this.#lastDeliveryAt = this.#now();
  }

  status(): FeedStatus {
    return {
      state: this.#state,
      appliedSeq: this.#appliedSeq,
      deliveredSeq: this.#deliveredSeq,
      streamSeq: this.#stream.streamSeq,
      lagMs: this.#stream.lag.lagMs(this.#now()),
      probedAt: this.#stream.probedAt,
      restarts: this.#restarts,
    };
  }

  /**
   * Follows until `stop()`; rejects with the error of a failed sink (the read model can no longer be
   * trusted: the caller stops serving). An unreachable stream is not a failure: it is waited out.
   */
  async run(): Promise<void> {
    this.#watchdog = setInterval(() => this.#watch(), this.#watchIntervalMs);
    this.#watchdog.unref();
    this.#stream.probeNow();
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
      this.#stream.stop();
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
    this.#stream.probeNow();
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
    // How far the stream is known to run past this delivery, from what this process knows (its own
    // acknowledged appends run ahead of their deliveries under load), not from the server's count.
    const behind = this.#stream.knownEnd() - newest.seq;
    this.#stream.delivered(newest.seq, now);
    if (this.#buffer.length >= this.#maxBatch) {
      // Behind the tail: apply in full batches, yielding between them so requests are still served.
      while (this.#buffer.length > 0 && this.#failure === null && !this.#stop.signal.aborted) {
        this.#applyBuffered();
        if (this.#applying !== null) await this.#applying;
        else if (this.#buffer.length > 0) await yieldToEventLoop();
      }
      return;
    }
    // A few events behind is this process's own appends in flight, delivered within a moment: holding
    // for them would keep every dependent task (and every read-your-write) waiting up to maxHoldMs.
    if (newest.pending === 0 || behind <= NEAR_TAIL_EVENTS) this.#scheduleFlush();
    else this.#holdAtMost();
  }

  /** Hands the buffer to the sink; an asynchronous sink gets one batch at a time. */
  #applyBuffered(): void {
    if (this.#holdTimer !== null) {
      clearTimeout(this.#holdTimer);
      this.#holdTimer = null;
    }
    if (this.#applying !== null || this.#buffer.length === 0) return;
    if (this.#failure !== null || this.#stop.signal.aborted) return;
    const batch = this.#buffer;
    this.#buffer = [];
    let outcome: number | Promise<number>;
    try {
      outcome = this.#sink(batch);
    } catch (error) {
      this.fail(error);
      return;
    }
    if (typeof outcome === 'number') {
      this.#applied(batch, outcome);
      return;
    }
    this.#applying = outcome
      .then(
        (count) => this.#applied(batch, count),
        (error: unknown) => this.fail(error),
      )
      .finally(() => {
        this.#applying = null;
        if (this.#buffer.length > 0) this.#scheduleFlush();
      });
  }

  /** The sink applied the first `count` of `batch`; the rest goes back in front of what arrived since. */
  #applied(batch: RawStoredMessage[], count: number): void {
    if (count < batch.length) this.#buffer = batch.slice(count).concat(this.#buffer);
    const last = batch[count - 1];
    if (last === undefined) return;
    this.#appliedSeq = last.seq;
    this.#stream.lag.applied(last.seq);
  }

  /** Applies at the end of this event-loop turn, after its sends (`afterSends`). */
  #scheduleFlush(): void {
    // A stopped or failed follower applies nothing more: rescheduling would spin on a buffer never emptied.
    if (this.#flushScheduled || this.#stop.signal.aborted || this.#failure !== null) return;
    this.#flushScheduled = true;
    this.#afterSends(() => {
      this.#flushScheduled = false;
      this.#applyBuffered();
      if (this.#buffer.length > 0 && this.#applying === null) this.#scheduleFlush();
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
    this.#stream.look();
    // Nothing waits in the buffer without a flush, a hold or a batch on its way (a safety net).
    if (
      this.#buffer.length > 0 &&
      !this.#flushScheduled &&
      this.#holdTimer === null &&
      this.#applying === null
    ) {
      this.#scheduleFlush();
    }
    const now = this.#now();
    const connected = this.#source.connected ?? true;
    if (
      connected &&
      this.#stream.streamSeq > this.#deliveredSeq &&
      now - this.#lastDeliveryAt >= this.#stallMs &&
      this.#attempt !== null &&
      !this.#attempt.signal.aborted
    ) {
      this.#state = 'stalled';
      this.#restarts += 1;
      this.#lastDeliveryAt = now;
      this.#onStall?.({ deliveredSeq: this.#deliveredSeq, streamSeq: this.#stream.streamSeq });
      this.#attempt.abort();
    }
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
