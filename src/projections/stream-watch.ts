import { FeedLag } from './feed-lag.ts';
import type { FeedSource } from './feed-source.ts';

/**
 * What a feed knows of the stream beyond its deliveries: this process's acknowledged appends (free, no
 * I/O) and the stream's last sequence, asked every `probeIntervalMs` (one request a second). From these it
 * keeps the highest sequence known to be in the stream and the lag as time (FeedLag).
 */
export class StreamWatch {
  readonly lag: FeedLag;
  #streamSeq: number;
  #probing = false;
  #probeAgain = false;
  #stopped = false;
  #lastProbeAt = Number.NEGATIVE_INFINITY;
  #probedAt: number | null = null;

  constructor(
    private readonly source: Pick<FeedSource, 'lastSeq' | 'ackedSeq'>,
    private readonly probeIntervalMs: number,
    private readonly now: () => number,
    appliedSeq: number,
  ) {
    this.#streamSeq = appliedSeq;
    this.lag = new FeedLag(appliedSeq);
  }

  /** The highest sequence known to be in the stream. */
  get streamSeq(): number {
    return this.#streamSeq;
  }

  /** When the last answered probe was sent (epoch ms), null before one. */
  get probedAt(): number | null {
    return this.#probedAt;
  }

  /**
   * The last sequence the stream is known to hold: probed, delivered, or acknowledged to this process
   * (own acknowledged appends count, live).
   */
  knownEnd(): number {
    return Math.max(this.#streamSeq, this.source.ackedSeq ?? 0);
  }

  /** A delivery reached `seq` at `at`. */
  delivered(seq: number, at: number): void {
    if (seq > this.#streamSeq) this.#streamSeq = seq;
    this.lag.note(seq, at);
  }

  /** The periodic look: own acknowledged appends, and a probe when one is due. */
  look(): void {
    const now = this.now();
    const acked = this.source.ackedSeq ?? 0;
    if (acked > this.#streamSeq) {
      this.#streamSeq = acked;
      this.lag.note(acked, now);
    }
    if (now - this.#lastProbeAt >= this.probeIntervalMs) this.probeNow();
  }

  /** Asks the stream for its last sequence now (unless a probe is on its way: then once more after it). */
  probeNow(): void {
    if (this.#stopped) return;
    if (this.#probing) {
      this.#probeAgain = true;
      return;
    }
    this.#probing = true;
    const askedAt = this.now();
    this.#lastProbeAt = askedAt;
    this.source
      .lastSeq()
      .then((tail) => {
        this.#probedAt = askedAt;
        if (tail > this.#streamSeq) this.#streamSeq = tail;
        this.lag.note(tail, this.now());
      })
      // Unreachable now: readiness sees the connection; the next probe asks again.
      .catch(() => {})
      .finally(() => {
        this.#probing = false;
        if (this.#probeAgain) {
          this.#probeAgain = false;
          this.probeNow();
        }
      });
  }

  stop(): void {
    this.#stopped = true;
  }
}
