import { AppError } from '../../errors.ts';
import type { Subjects } from '../../events/index.ts';
import { FeedFollower } from '../feed-follower.ts';
import type { FeedSource, FeedStatus } from '../feed-source.ts';
import type { GraphCacheBudget } from '../graph-cache.ts';
import type { PgConnectOptions } from './pg-connection.ts';
import { type PgRetry, PostgresReadModel } from './postgres-read-model.ts';

export interface PostgresProjectorOptions {
  source: FeedSource;
  subjects: Subjects;
  streamName: string;
  /** A `postgres://` URL. */
  url: string;
  /** Events per transaction at most. Default 1000. */
  maxBatch?: number;
  /** Graph aggregates kept in memory, by graphs and by their tasks. Default 1,000 graphs, 20,000 tasks. */
  cacheBudget?: GraphCacheBudget;
  /** See PostgresReadModelOptions.retryDelaysMs. */
  retryDelaysMs?: readonly number[];
  /** After each committed batch while catching up: the last sequence applied and the catch-up target. */
  onProgress?: (appliedSeq: number, targetSeq: number) => void;
  /** See PostgresReadModelOptions. */
  onRetry?: (failure: PgRetry) => void;
  onRecovered?: (recovered: { tries: number; fromSeq: number }) => void;
  /** Told when the feed could not be started (NATS unreachable); it is tried again. */
  onFeedError?: (error: unknown) => void;
  connect?: PgConnectOptions;
}

/** What a catch-up did: up to where, how many events it applied and how long it took. */
export interface CatchUp {
  seq: number;
  events: number;
  ms: number;
}

/**
 * `am projections serve --postgres`: a FeedFollower over the stream feeding a PostgresReadModel. It
 * starts from the database's checkpoint, catches up with what the stream held at the start (`caughtUp`),
 * then follows live until `stop()`. A NATS that goes away is waited for (the follower starts its feed
 * again), a Postgres that goes away too (the model tries the batch again); `done` rejects only when the
 * read model cannot go on (its checkpoint went back under it).
 */
export class PostgresProjector {
  readonly #model: PostgresReadModel;
  readonly #follower: FeedFollower;
  readonly #startedAt = performance.now();
  readonly #fromSeq: number;
  readonly #targetSeq: number;
  readonly #onProgress: ((appliedSeq: number, targetSeq: number) => void) | undefined;
  #caughtUp: ((catchUp: CatchUp) => void) | null = null;
  #stopped = false;
  /** Resolves once the read model holds what the stream held when the projector started. */
  readonly caughtUp: Promise<CatchUp>;
  /** Resolves when stopped; rejects when the read model failed for good. */
  readonly done: Promise<void>;

  private constructor(opts: PostgresProjectorOptions, model: PostgresReadModel, targetSeq: number) {
    this.#model = model;
    this.#fromSeq = model.appliedSeq + 1;
    this.#targetSeq = targetSeq;
    this.#onProgress = opts.onProgress;
    this.caughtUp = new Promise((resolve) => {
      this.#caughtUp = resolve;
    });
    this.#follower = new FeedFollower({
      source: opts.source,
      fromSeq: this.#fromSeq,
      maxBatch: opts.maxBatch ?? 1_000,
      apply: async (messages) => {
        const count = await model.apply(messages);
        if (count > 0) this.#afterBatch(true);
        return count;
      },
      ...(opts.onFeedError ? { onFeedError: opts.onFeedError } : {}),
      // Once stopped, nothing more is scheduled: the follower schedules a flush again while its buffer
      // holds what it can no longer apply, which would spin the event loop after stop().
      afterSends: (work) => {
        if (!this.#stopped) setImmediate(work);
      },
    });
    this.done = this.#follower.run();
    // `done` may have no listener until the caller awaits it; a follower that ended schedules nothing more.
    this.done
      .catch(() => {})
      .finally(() => {
        this.#stopped = true;
      });
    this.#afterBatch(false);
  }

  /**
   * Opens the read model (waiting for Postgres, see PostgresReadModel.open), checks that its checkpoint
   * is not past the stream's end (a database of another, older stream of the same name), and starts.
   */
  static async start(opts: PostgresProjectorOptions, signal?: AbortSignal): Promise<PostgresProjector> {
    const model = await PostgresReadModel.open(
      {
        url: opts.url,
        subjects: opts.subjects,
        streamName: opts.streamName,
        ...(opts.maxBatch === undefined ? {} : { maxBatch: opts.maxBatch }),
        ...(opts.cacheBudget === undefined ? {} : { cacheBudget: opts.cacheBudget }),
        ...(opts.retryDelaysMs === undefined ? {} : { retryDelaysMs: opts.retryDelaysMs }),
        ...(opts.onRetry ? { onRetry: opts.onRetry } : {}),
        ...(opts.onRecovered ? { onRecovered: opts.onRecovered } : {}),
        ...(opts.connect ? { connect: opts.connect } : {}),
      },
      signal,
    );
    try {
      const targetSeq = await opts.source.lastSeq();
      if (model.appliedSeq > targetSeq) {
        throw new AppError(
          'AM_ERR_CONFIG_INVALID',
          `the Postgres read model is at seq ${model.appliedSeq} but stream ${opts.streamName} ends at ${targetSeq} (was the stream recreated?): use a new database`,
        );
      }
      return new PostgresProjector(opts, model, targetSeq);
    } catch (error) {
      await model.close();
      throw error;
    }
  }

  /** The first sequence this run applied (the checkpoint it started from, plus one). */
  get fromSeq(): number {
    return this.#fromSeq;
  }

  /** The stream's last sequence when this run started: what `caughtUp` waits for. */
  get targetSeq(): number {
    return this.#targetSeq;
  }

  /** The last sequence committed to Postgres. */
  get appliedSeq(): number {
    return this.#model.appliedSeq;
  }

  feedStatus(): FeedStatus {
    return this.#follower.status();
  }

  /** Stops following; a batch on its way is given `graceMs` to commit, then abandoned (rolled back). */
  async stop(graceMs = 2_000): Promise<void> {
    this.#stopped = true;
    this.#follower.stop();
    await this.#model.close(graceMs);
    await this.done.catch(() => {});
  }

  /** After a committed batch (and once at the start, with nothing to report: the checkpoint may be the target). */
  #afterBatch(committed: boolean): void {
    if (this.#caughtUp === null) return;
    const applied = this.#model.appliedSeq;
    if (committed) this.#onProgress?.(applied, this.#targetSeq);
    if (applied < this.#targetSeq) return;
    const resolve = this.#caughtUp;
    this.#caughtUp = null;
    resolve({ seq: applied, events: applied - this.#fromSeq + 1, ms: performance.now() - this.#startedAt });
  }
}
