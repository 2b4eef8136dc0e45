/**
 * How long this process has known of an event it has not applied yet: the projection's lag as time.
 *
 * An event count says little (a healthy burst is hundreds of events, applied in milliseconds), and the
 * server's own figure (`num_pending`) is miscounted by nats-server 2.9. So every time the follower learns
 * of a stream sequence — a delivery, an acknowledged append of its own, an answer to "what is the
 * stream's last sequence?" — it notes when it learned it; the lag is the age of the oldest such note the
 * applied sequence has not passed yet. It grows without bound for a feed that froze or a stream it cannot
 * see, and stays near zero for a busy feed that keeps up.
 */
export class FeedLag {
  /** Noted sequences (increasing) and when they were first known (non-decreasing). */
  #marks: Array<{ seq: number; at: number }> = [];
  #applied = 0;

  /** Notes of the same moment within this many ms share one mark (keeps the list short under load). */
  static readonly MERGE_MS = 10;

  constructor(appliedSeq = 0) {
    this.#applied = appliedSeq;
  }

  /** The stream holds `seq` (at least), known since `at`. */
  note(seq: number, at: number): void {
    if (seq <= this.#applied) return;
    const last = this.#marks[this.#marks.length - 1];
    if (last !== undefined) {
      if (seq <= last.seq) return;
      // Merging moves the later sequence onto the earlier time: the lag can only read high, never low.
      if (at - last.at < FeedLag.MERGE_MS) {
        last.seq = seq;
        return;
      }
    }
    this.#marks.push({ seq, at });
  }

  /** Everything up to `seq` is applied. */
  applied(seq: number): void {
    if (seq <= this.#applied) return;
    this.#applied = seq;
    let drop = 0;
    while (drop < this.#marks.length && (this.#marks[drop]?.seq ?? 0) <= seq) drop += 1;
    if (drop > 0) this.#marks.splice(0, drop);
  }

  /** The age of the oldest known, unapplied event at `now`; 0 when everything known is applied. */
  lagMs(now: number): number {
    const oldest = this.#marks[0];
    return oldest === undefined ? 0 : Math.max(0, now - oldest.at);
  }

  /** The highest sequence noted (or applied). */
  get knownSeq(): number {
    return this.#marks[this.#marks.length - 1]?.seq ?? this.#applied;
  }
}
