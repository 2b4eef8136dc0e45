import type { RecordedEvent } from '../events/index.ts';

/** What one committed batch changed; reactors (manager, long-polls, notifications) listen to it. */
export interface AppliedBatch {
  fromSeq: number;
  toSeq: number;
  /** Decoded events applied in this batch, in order, with the anomaly each was by rule (or null). */
  events: Array<RecordedEvent & { anomaly: string | null }>;
  graphs: ReadonlySet<string>;
  tasks: ReadonlyArray<{ graphId: string; taskId: string }>;
}

type Waiter = { seq: number; resolve: (reached: boolean) => void; timer: NodeJS.Timeout | null };

/**
 * Who hears that a projector applied something: waiters for a sequence (read-your-writes, commands
 * waiting for their own append) and listeners of each batch (the manager, long-polls, caches).
 */
export class AppliedSignals {
  readonly #listeners = new Set<(batch: AppliedBatch) => void>();
  /** Listeners that read `batch.events`. */
  #eventListeners = 0;
  #waiters: Waiter[] = [];

  /** Whether any listener reads `batch.events` (else a batch keeps no decoded event). */
  get wantEvents(): boolean {
    return this.#eventListeners > 0;
  }

  /** Resolves true once `applied()` reaches `seq`, false after `timeoutMs` (or when the projector fails). */
  waitFor(seq: number, timeoutMs: number, applied: number): Promise<boolean> {
    if (applied >= seq) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: Waiter = { seq, resolve, timer: null };
      if (Number.isFinite(timeoutMs)) {
        waiter.timer = setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          resolve(false);
        }, timeoutMs);
      }
      this.#waiters.push(waiter);
    });
  }

  /**
   * Calls `listener` after each committed batch. `{ events: false }` says it never reads
   * `batch.events`: with no listener that does, a batch keeps no decoded event alive past its
   * application, which spares a replay most of its garbage-collection work.
   */
  onApplied(listener: (batch: AppliedBatch) => void, opts: { events?: boolean } = {}): () => void {
    const wantsEvents = opts.events ?? true;
    this.#listeners.add(listener);
    if (wantsEvents) this.#eventListeners += 1;
    return () => {
      if (this.#listeners.delete(listener) && wantsEvents) this.#eventListeners -= 1;
    };
  }

  /** Tells every listener of `batch`, then wakes the waiters it satisfies. A throwing listener is reported. */
  applied(batch: AppliedBatch, onListenerError: (error: unknown) => void): void {
    for (const listener of this.#listeners) {
      try {
        listener(batch);
      } catch (error) {
        onListenerError(error);
      }
    }
    if (this.#waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const waiter of this.#waiters) {
      if (waiter.seq <= batch.toSeq) {
        if (waiter.timer) clearTimeout(waiter.timer);
        waiter.resolve(true);
      } else {
        still.push(waiter);
      }
    }
    this.#waiters = still;
  }

  /** Nobody waits for a sequence a stopped-for-good projector will never apply. */
  failWaiters(): void {
    for (const waiter of this.#waiters.splice(0)) {
      if (waiter.timer) clearTimeout(waiter.timer);
      waiter.resolve(false);
    }
  }
}
