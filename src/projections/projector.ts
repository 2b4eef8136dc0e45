import type { GraphState, Subjects } from '../events/index.ts';
import { type AppliedBatch, AppliedSignals } from './applied-signals.ts';
import { BatchFold } from './batch-fold.ts';
import { ClaimIndex } from './claim-index.ts';
import { CommitWindow } from './commit-window.ts';
import { FeedFollower } from './feed-follower.ts';
import type { FeedSource, FeedStall, FeedStatus, RawStoredMessage } from './feed-source.ts';
import { DEFAULT_GRAPH_CACHE_BUDGET, GraphCache, type GraphCacheBudget } from './graph-cache.ts';
import { LiveIndexes } from './live-indexes.ts';
import type { ReadModel } from './read-model.ts';
import type { ReadyIndex } from './ready-index.ts';

export type { AppliedBatch } from './applied-signals.ts';

/** What the projector reads: the event store, structurally (projections do not import the NATS adapter). */
export type ProjectionSource = FeedSource;

export interface ProjectorOptions {
  readModel: ReadModel;
  source: ProjectionSource;
  subjects: Subjects;
  readyIndex?: ReadyIndex;
  /** Events applied per SQLite transaction at most. Default 500. */
  maxBatch?: number;
  /** Time one batch may hold the event loop before it commits and yields. Default 25 ms. */
  maxBatchMs?: number;
  /** Graph aggregates kept in memory, by graphs and by their tasks. Default 1,000 graphs, 20,000 tasks. */
  cacheBudget?: GraphCacheBudget;
  /** How long applied batches may stay uncommitted (see CommitWindow). Default 50 ms; 0 commits each batch. */
  commitIntervalMs?: number;
  /** Told once when the projector stops for good: a batch or a commit failed (the read model is not trusted). */
  onError?: (error: unknown) => void;
  /** Told when the feed went quiet with the stream holding more, and is being started again. */
  onFeedStall?: (stall: FeedStall) => void;
  /** Told when the feed could not be started (it is tried again). */
  onFeedError?: (error: unknown) => void;
  /** Tuning of the feed (hold, stall and probe times; whether a failing feed stops it); see FeedFollowerOptions. */
  feed?: { maxHoldMs?: number; stallMs?: number; probeIntervalMs?: number; stopOnFeedError?: boolean };
  /** Runs a fold after the turn's sends (the node's TurnEnd); default setImmediate. */
  afterSends?: (work: () => void) => void;
}

/**
 * Folds the stream into the read model. Its parts: the feed (FeedFollower: what arrived is applied
 * within a bounded time), the fold (BatchFold: events into aggregates and projection rows), the commit
 * window (CommitWindow: rows and checkpoint in one transaction, committed per window, so a crash neither
 * skips nor re-applies an event), the in-memory indexes (LiveIndexes: claims, READY) and who hears of a
 * batch (AppliedSignals). It resumes from checkpoint+1.
 */
export class Projector {
  /** Current claims by request and by token, in step with the committed task rows. */
  readonly claims = new ClaimIndex();
  private readonly readModel: ReadModel;
  private readonly source: ProjectionSource;
  private readonly maxBatch: number;
  private readonly maxBatchMs: number;
  private readonly cache: GraphCache;
  private readonly fold: BatchFold;
  private readonly window: CommitWindow;
  private readonly indexes: LiveIndexes;
  private readonly signals = new AppliedSignals();
  private readonly onError: (error: unknown) => void;
  private readonly followerOptions: Pick<
    ProjectorOptions,
    'onFeedStall' | 'onFeedError' | 'feed' | 'afterSends'
  >;
  private applied = 0;
  private follower: FeedFollower | null = null;
  private running: Promise<void> | null = null;
  /** Why the projector stopped for good, once it has. */
  private failure: { error: unknown } | null = null;

  constructor(opts: ProjectorOptions) {
    this.readModel = opts.readModel;
    this.source = opts.source;
    this.maxBatch = opts.maxBatch ?? 500;
    this.maxBatchMs = opts.maxBatchMs ?? 25;
    this.onError = opts.onError ?? (() => {});
    this.followerOptions = opts;
    this.cache = new GraphCache(opts.cacheBudget ?? DEFAULT_GRAPH_CACHE_BUDGET, (id) =>
      this.readModel.loadGraphState(id),
    );
    this.fold = new BatchFold(opts.readModel, opts.subjects, this.cache);
    this.window = new CommitWindow({
      db: opts.readModel.db,
      checkpoint: opts.readModel.checkpoint,
      intervalMs: opts.commitIntervalMs ?? 50,
      // The cached aggregates and the indexes hold what was rolled back: drop the cache (the indexes
      // reload when the projector starts again).
      onRolledBack: () => {
        this.cache.clear();
        this.applied = this.readModel.checkpoint.read();
      },
      onCommitFailed: (error) => this.follower?.fail(error),
    });
    this.indexes = new LiveIndexes(opts.readModel.tasks, this.claims, opts.readyIndex);
    this.applied = this.readModel.checkpoint.read();
  }

  /** The last stream sequence applied (and committed). */
  get appliedSeq(): number {
    return this.applied;
  }

  get isRunning(): boolean {
    return this.running !== null;
  }

  /** Whether the projector stopped for good (a failed batch or commit): its read model is not to be served. */
  get failed(): boolean {
    return this.failure !== null;
  }

  /** What the feed knows (applied, delivered, the stream's known end, lag as time); `stopped` when not running. */
  feedStatus(): FeedStatus {
    return (
      this.follower?.status() ?? {
        state: this.failure === null ? 'stopped' : 'failed',
        appliedSeq: this.applied,
        deliveredSeq: this.applied,
        streamSeq: this.applied,
        lagMs: 0,
        probedAt: null,
        restarts: 0,
      }
    );
  }

  /** Asks the stream for its last sequence now (readiness after a reconnect). */
  probeStream(): void {
    this.follower?.probeNow();
  }

  /** Starts following the stream from checkpoint+1; loads the READY and claim indexes from the read model first. */
  start(): void {
    if (this.running) return;
    this.failure = null;
    this.applied = this.readModel.checkpoint.read();
    this.indexes.load();
    const { feed, afterSends, onFeedStall, onFeedError } = this.followerOptions;
    const follower = new FeedFollower({
      source: this.source,
      fromSeq: this.applied + 1,
      apply: (messages) => this.applyBatch(messages),
      maxBatch: this.maxBatch,
      ...feed,
      ...(afterSends ? { afterSends } : {}),
      ...(onFeedStall ? { onStall: onFeedStall } : {}),
      ...(onFeedError ? { onFeedError } : {}),
    });
    this.follower = follower;
    this.running = follower
      .run()
      .catch((error: unknown) => {
        this.failure ??= { error };
        this.signals.failWaiters();
        this.onError(error);
      })
      .finally(() => {
        this.running = null;
      });
  }

  async stop(): Promise<void> {
    this.follower?.stop();
    await this.running;
    this.commit();
  }

  /** Commits the batches applied so far (they are already visible to this connection). */
  commit(): void {
    this.window.commit();
  }

  /** Resolves true once `seq` is applied, false after `timeoutMs` (or when the projector fails). */
  waitFor(seq: number, timeoutMs: number): Promise<boolean> {
    return this.signals.waitFor(seq, timeoutMs, this.applied);
  }

  /** See AppliedSignals.onApplied. */
  onApplied(listener: (batch: AppliedBatch) => void, opts: { events?: boolean } = {}): () => void {
    return this.signals.onApplied(listener, opts);
  }

  /**
   * The current graph aggregate (from memory, else from its rows). Deciders read it; nothing outside
   * the projector may change it.
   */
  graphState(graphId: string): GraphState | null {
    return this.cache.get(graphId);
  }

  /** Replays the whole stream from sequence 1 into emptied tables; resolves when caught up with the tail. */
  async rebuild(opts: { onProgress?: (appliedSeq: number, targetSeq: number) => void } = {}): Promise<{
    events: number;
    ms: number;
  }> {
    const startedAt = performance.now();
    await this.stop();
    const target = await this.source.lastSeq();
    this.readModel.truncate();
    this.cache.clear();
    this.indexes.clear();
    this.applied = 0;
    this.readModel.beginBulkLoad();
    let unsubscribe = (): void => {};
    if (opts.onProgress) {
      const report = opts.onProgress;
      unsubscribe = this.onApplied((batch) => report(batch.toSeq, target), { events: false });
    }
    try {
      this.start();
      await this.waitFor(target, Number.POSITIVE_INFINITY);
      if (this.failure !== null) throw this.failure.error;
    } finally {
      unsubscribe();
      // Between batches (SQLite calls are synchronous), so no batch sees half the indexes; the WAL
      // checkpoint that ends the bulk load needs no transaction open.
      this.commit();
      this.readModel.endBulkLoad();
    }
    return { events: target, ms: performance.now() - startedAt };
  }

  /**
   * Applies messages in the commit window, stopping early when the time cap is reached; returns how
   * many it applied. Exposed for tests; `start()` is the normal way in.
   */
  applyBatch(messages: readonly RawStoredMessage[]): number {
    // A throw rolls the whole open window back (CommitWindow) and reaches the feed, which stops.
    const folded = this.window.write(
      () =>
        this.fold.apply(messages, {
          maxCount: this.maxBatch,
          maxMs: this.maxBatchMs,
          withEvents: this.signals.wantEvents,
        }),
      (batch) => messages[batch.count - 1]?.seq ?? null,
    );
    const first = messages[0];
    const last = messages[folded.count - 1];
    if (!first || !last) return 0;
    this.applied = last.seq;
    this.indexes.update(folded.graphs, folded.tasks);
    this.signals.applied(
      {
        fromSeq: first.seq,
        toSeq: last.seq,
        events: folded.events,
        graphs: new Set(folded.graphs.keys()),
        tasks: folded.tasks,
      },
      this.onError,
    );
    return folded.count;
  }
}
