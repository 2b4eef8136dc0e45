import type { Checkpoint } from './checkpoint.ts';
import type { ReadModelDb } from './database.ts';

export interface CommitWindowOptions {
  db: ReadModelDb;
  checkpoint: Checkpoint;
  /**
   * How long applied batches may stay uncommitted, in ms. 0 commits every batch on its own. Batches
   * apply in one open SQLite transaction committed once per window: this connection (every read of this
   * process) sees each batch at once, other connections see it at the commit.
   */
  intervalMs: number;
  /** Told when the window was rolled back: what the caller holds in memory of it must go too. */
  onRolledBack: () => void;
  /** Told when a timed commit failed (after the roll back): the caller stops. */
  onCommitFailed: (error: unknown) => void;
}

/**
 * The transaction batches are written in, and the checkpoint that goes with them. Each batch writes its
 * rows and then the checkpoint of its last event inside one open transaction, which commits once per
 * `intervalMs` (commits were a few per cent of the server's CPU when every batch committed). A crash
 * loses at most the open window, and the file's checkpoint still matches its rows: the stream still
 * holds the window's events, and the projector replays them from there.
 */
export class CommitWindow {
  readonly #db: ReadModelDb;
  readonly #checkpoint: Checkpoint;
  readonly #intervalMs: number;
  readonly #onRolledBack: () => void;
  readonly #onCommitFailed: (error: unknown) => void;
  #timer: NodeJS.Timeout | null = null;

  constructor(opts: CommitWindowOptions) {
    this.#db = opts.db;
    this.#checkpoint = opts.checkpoint;
    this.#intervalMs = opts.intervalMs;
    this.#onRolledBack = opts.onRolledBack;
    this.#onCommitFailed = opts.onCommitFailed;
  }

  /**
   * Runs `writeBatch` inside the open transaction (opening it if needed) and writes, in the same
   * transaction, the checkpoint `lastSeqOf` names for its result (none when null). A throw rolls back the
   * whole window, not only this batch, and is rethrown.
   */
  write<T>(writeBatch: () => T, lastSeqOf: (written: T) => number | null): T {
    if (!this.#db.inTransaction) this.#db.exec('BEGIN');
    let written: T;
    try {
      written = writeBatch();
      const lastSeq = lastSeqOf(written);
      if (lastSeq !== null) this.#checkpoint.write(lastSeq);
    } catch (error) {
      this.rollBack();
      throw error;
    }
    this.#scheduleCommit();
    return written;
  }

  /** Commits what the window holds (already visible to this connection). */
  commit(): void {
    this.#cancelTimer();
    if (this.#db.open && this.#db.inTransaction) this.#db.exec('COMMIT');
  }

  /** Drops the open window: the file's rows and checkpoint are what the caller stands on again. */
  rollBack(): void {
    this.#cancelTimer();
    if (this.#db.open && this.#db.inTransaction) this.#db.exec('ROLLBACK');
    this.#onRolledBack();
  }

  #scheduleCommit(): void {
    if (this.#intervalMs <= 0) {
      this.commit();
      return;
    }
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      try {
        this.commit();
      } catch (error) {
        // The file kept none of the window: fall back to it and stop, as a failed batch does.
        this.rollBack();
        this.#onCommitFailed(error);
      }
    }, this.#intervalMs);
  }

  #cancelTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
