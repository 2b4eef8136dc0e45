import type { Applied, GraphState } from '../events/index.ts';
import {
  AGENT_EVENT_TYPES,
  advanceSubjectSeq,
  type DecodeResult,
  type DomainEvent,
  decodeEvent,
  evolveAgent,
  evolveGraph,
  isDispatching,
  type RecordedEvent,
  type Subjects,
  TASK_EVENT_TYPES,
} from '../events/index.ts';
import { ClaimIndex } from './claim-index.ts';
import {
  FeedFollower,
  type FeedSource,
  type FeedStall,
  type FeedStatus,
  type RawStoredMessage,
} from './feed-follower.ts';
import { GraphCache } from './graph-cache.ts';
import type { ReadModel } from './read-model.ts';
import type { ReadyIndex } from './ready-index.ts';
import type { ResultClaim } from './results-projection.ts';

export type { RawStoredMessage } from './feed-follower.ts';

/** What the projector reads: the event store, structurally (projections do not import the NATS adapter). */
export type ProjectionSource = FeedSource;

/** What one committed batch changed; reactors (manager, long-polls, notifications) listen to it. */
export interface AppliedBatch {
  fromSeq: number;
  toSeq: number;
  /** Decoded events applied in this batch, in order, with the anomaly each was by rule (or null). */
  events: Array<RecordedEvent & { anomaly: string | null }>;
  graphs: ReadonlySet<string>;
  tasks: ReadonlyArray<{ graphId: string; taskId: string }>;
}

/** The tasks a batch changed, by graph id. */
type DirtyTasks = Map<string, Set<string>>;

export interface ProjectorOptions {
  readModel: ReadModel;
  source: ProjectionSource;
  subjects: Subjects;
  readyIndex?: ReadyIndex;
  /** Events applied per SQLite transaction at most. Default 500. */
  maxBatch?: number;
  /** Time one batch may hold the event loop before it commits and yields. Default 25 ms. */
  maxBatchMs?: number;
  /** Graph aggregates kept in memory. Default 1000. */
  cacheSize?: number;
  /**
   * How long applied batches may stay uncommitted, in ms. Default 50. Batches apply in one open SQLite
   * transaction that commits once per window: this connection (every read of this process) sees each
   * batch at once, other connections see it at the commit. 0 commits every batch on its own.
   */
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

type Waiter = { seq: number; resolve: (reached: boolean) => void; timer: NodeJS.Timeout | null };

/**
 * Folds the stream into the read model: one transaction per batch holds the rows and the checkpoint,
 * so a crash anywhere neither skips nor re-applies an event. It resumes from checkpoint+1.
 */
export class Projector {
  private readonly readModel: ReadModel;
  private readonly source: ProjectionSource;
  private readonly subjects: Subjects;
  private readonly readyIndex: ReadyIndex | undefined;
  private readonly maxBatch: number;
  private readonly maxBatchMs: number;
  private readonly commitIntervalMs: number;
  private commitTimer: NodeJS.Timeout | null = null;
  private readonly cache: GraphCache;
  private readonly listeners = new Set<(batch: AppliedBatch) => void>();
  /** Listeners that read `batch.events`. */
  private eventListeners = 0;
  private readonly onError: (error: unknown) => void;
  private readonly onFeedStall: ProjectorOptions['onFeedStall'];
  private readonly onFeedError: ProjectorOptions['onFeedError'];
  private readonly feedOptions: NonNullable<ProjectorOptions['feed']>;
  private readonly afterSends: ProjectorOptions['afterSends'];
  private waiters: Waiter[] = [];
  private applied = 0;
  private follower: FeedFollower | null = null;
  private running: Promise<void> | null = null;
  /** Why the projector stopped for good, once it has. */
  private failure: { error: unknown } | null = null;
  private positions = new WeakMap<Map<string, unknown>, Map<string, number>>();
  /** Current claims by request and by token, in step with the committed task rows. */
  readonly claims = new ClaimIndex();

  constructor(opts: ProjectorOptions) {
    this.readModel = opts.readModel;
    this.source = opts.source;
    this.subjects = opts.subjects;
    this.readyIndex = opts.readyIndex;
    this.maxBatch = opts.maxBatch ?? 500;
    this.maxBatchMs = opts.maxBatchMs ?? 25;
    this.commitIntervalMs = opts.commitIntervalMs ?? 50;
    this.cache = new GraphCache(opts.cacheSize ?? 1000, (id) => this.readModel.loadGraphState(id));
    this.onError = opts.onError ?? (() => {});
    this.onFeedStall = opts.onFeedStall;
    this.onFeedError = opts.onFeedError;
    this.feedOptions = opts.feed ?? {};
    this.afterSends = opts.afterSends;
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
    this.loadIndexes();
    const follower = new FeedFollower({
      source: this.source,
      fromSeq: this.applied + 1,
      apply: (messages) => this.applyBatch(messages),
      maxBatch: this.maxBatch,
      ...this.feedOptions,
      ...(this.afterSends ? { afterSends: this.afterSends } : {}),
      ...(this.onFeedStall ? { onStall: this.onFeedStall } : {}),
      ...(this.onFeedError ? { onFeedError: this.onFeedError } : {}),
    });
    this.follower = follower;
    this.running = follower
      .run()
      .catch((error: unknown) => {
        this.failure ??= { error };
        // Nobody waits for a sequence this projector will never apply.
        for (const waiter of this.waiters.splice(0)) {
          if (waiter.timer) clearTimeout(waiter.timer);
          waiter.resolve(false);
        }
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
    this.cancelCommitTimer();
    const db = this.readModel.db;
    if (db.open && db.inTransaction) db.exec('COMMIT');
  }

  /** Resolves true once `seq` is applied, false after `timeoutMs`. */
  waitFor(seq: number, timeoutMs: number): Promise<boolean> {
    if (this.applied >= seq) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: Waiter = { seq, resolve, timer: null };
      if (Number.isFinite(timeoutMs)) {
        waiter.timer = setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve(false);
        }, timeoutMs);
      }
      this.waiters.push(waiter);
    });
  }

  /**
   * Calls `listener` after each committed batch. `{ events: false }` says it never reads
   * `batch.events`: with no listener that does, a batch keeps no decoded event alive past its
   * application, which spares a replay most of its garbage-collection work.
   */
  onApplied(listener: (batch: AppliedBatch) => void, opts: { events?: boolean } = {}): () => void {
    const wantsEvents = opts.events ?? true;
    this.listeners.add(listener);
    if (wantsEvents) this.eventListeners += 1;
    return () => {
      if (this.listeners.delete(listener) && wantsEvents) this.eventListeners -= 1;
    };
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
    this.readyIndex?.clear();
    this.claims.clear();
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
   * Applies messages in one transaction, stopping early when the time cap is reached; returns how
   * many it applied. Exposed for tests; `start()` is the normal way in.
   */
  applyBatch(messages: readonly RawStoredMessage[]): number {
    const startedAt = performance.now();
    const dirtyGraphs = new Map<string, GraphState>();
    // Task ids per graph: no key string or object per event, and each task is written once per batch.
    const dirtyTasks: DirtyTasks = new Map();
    const plannedGraphs = new Set<string>();
    const events: AppliedBatch['events'] | null = this.eventListeners > 0 ? [] : null;
    let count = 0;
    const db = this.readModel.db;
    if (!db.inTransaction) db.exec('BEGIN');
    try {
      for (const message of messages) {
        this.applyOne(message, dirtyGraphs, dirtyTasks, events, plannedGraphs);
        count += 1;
        if (count >= this.maxBatch || performance.now() - startedAt > this.maxBatchMs) break;
      }
      for (const state of dirtyGraphs.values()) this.readModel.graphs.write(state);
      for (const [graphId, taskIds] of dirtyTasks) {
        const state = dirtyGraphs.get(graphId);
        if (!state) continue;
        const planned = plannedGraphs.has(graphId);
        for (const taskId of taskIds) {
          const task = state.tasks.get(taskId);
          if (!task) continue;
          if (planned) this.readModel.tasks.write(graphId, this.positionOf(state, taskId), task);
          else this.readModel.tasks.update(graphId, task);
        }
      }
      const last = messages[count - 1];
      if (last) this.readModel.checkpoint.write(last.seq);
    } catch (error) {
      // Every uncommitted batch goes, not only this one: the checkpoint in the file still matches the
      // rows, and the stream still holds the events. The cached aggregates and the indexes hold what
      // was rolled back, so drop the cache (the indexes reload when the projector starts again).
      this.rollBackWindow();
      throw error;
    }
    this.scheduleCommit();
    const first = messages[0];
    const last = messages[count - 1];
    if (!first || !last) return 0;
    this.applied = last.seq;
    const tasks: Array<{ graphId: string; taskId: string }> = [];
    for (const [graphId, taskIds] of dirtyTasks)
      for (const taskId of taskIds) tasks.push({ graphId, taskId });
    this.updateIndexes(dirtyGraphs, tasks);
    const batch: AppliedBatch = {
      fromSeq: first.seq,
      toSeq: last.seq,
      events: events ?? [],
      graphs: new Set(dirtyGraphs.keys()),
      tasks,
    };
    for (const listener of this.listeners) {
      try {
        listener(batch);
      } catch (error) {
        this.onError(error);
      }
    }
    this.resolveWaiters();
    return count;
  }

  private scheduleCommit(): void {
    if (this.commitIntervalMs <= 0) {
      this.commit();
      return;
    }
    if (this.commitTimer) return;
    this.commitTimer = setTimeout(() => {
      this.commitTimer = null;
      try {
        this.commit();
      } catch (error) {
        // The file kept none of the window: fall back to it and stop, as a failed batch does.
        this.rollBackWindow();
        this.follower?.fail(error);
      }
    }, this.commitIntervalMs);
  }

  /** Drops the open window: the file's rows and checkpoint are what the projector stands on again. */
  private rollBackWindow(): void {
    this.cancelCommitTimer();
    const db = this.readModel.db;
    if (db.open && db.inTransaction) db.exec('ROLLBACK');
    this.cache.clear();
    this.applied = this.readModel.checkpoint.read();
  }

  private cancelCommitTimer(): void {
    if (this.commitTimer) clearTimeout(this.commitTimer);
    this.commitTimer = null;
  }

  private applyOne(
    message: RawStoredMessage,
    dirtyGraphs: Map<string, GraphState>,
    dirtyTasks: DirtyTasks,
    events: AppliedBatch['events'] | null,
    plannedGraphs: Set<string>,
  ): void {
    const { seq, subject } = message;
    const ref = this.subjects.parse(subject);
    const decoded: DecodeResult =
      message.checked === undefined ? decodeEvent(message.data) : { ok: true, event: message.checked };
    if (!decoded.ok || ref === null) {
      const reason = ref === null ? 'unknown_subject' : decoded.ok ? 'unknown_subject' : decoded.reason;
      this.readModel.skipped.record(seq, subject, decoded.ok ? decoded.event.type : null, reason);
      if (ref && (ref.kind === 'graph' || ref.kind === 'task')) {
        const state = this.cache.get(ref.graphId);
        if (state) this.markDirty(state, advanceSubjectSeq(state, ref, seq), dirtyGraphs, dirtyTasks);
      }
      return;
    }
    const event = decoded.event;
    const mismatch = subjectMismatch(ref, event);
    if (mismatch) {
      this.readModel.skipped.record(seq, subject, event.type, mismatch);
      return;
    }
    // One object serves the fold and the batch's event list (a replay makes one per event).
    const recorded: RecordedEvent & { anomaly: string | null } = { seq, subject, event, anomaly: null };
    if (ref.kind === 'agent') {
      const next = evolveAgent(this.readModel.agents.get(ref.agentId), recorded);
      if (next) this.readModel.agents.write(next);
      events?.push(recorded);
      return;
    }
    const state = this.cache.get(ref.graphId);
    if (ref.kind === 'progress') {
      if (state?.tasks.has(ref.taskId) && event.type === 'TaskProgressed') {
        this.readModel.progress.apply(seq, event, ref.graphId, ref.taskId);
        events?.push(recorded);
      } else {
        this.readModel.skipped.record(seq, subject, event.type, 'unknown_task');
      }
      return;
    }
    const claim = ref.kind === 'task' ? claimBefore(state, ref.graphId, ref.taskId) : null;
    const { state: next, applied } = evolveGraph(state, recorded);
    if (next === null) {
      this.readModel.skipped.record(seq, subject, event.type, applied.anomaly ?? 'unknown_graph');
      return;
    }
    if (next !== state) this.cache.set(next);
    // Planning creates the task rows; every later change only updates their state columns.
    if ((event.type === 'GraphSubmitted' || event.type === 'GraphPlanned') && applied.anomaly === null) {
      plannedGraphs.add(next.id);
    }
    this.markDirty(next, applied, dirtyGraphs, dirtyTasks);
    recorded.anomaly = applied.anomaly;
    events?.push(recorded);
    if (applied.anomaly !== null) {
      this.readModel.skipped.record(seq, subject, event.type, applied.anomaly);
      return;
    }
    switch (event.type) {
      case 'TaskCompleted':
      case 'TaskAttemptFailed':
      case 'TaskFailed':
        if (claim) this.readModel.results.apply(seq, event, claim);
        return;
      case 'AuditPassed':
      case 'AuditFailed': {
        const audit = next.audits[next.audits.length - 1];
        if (audit) this.readModel.audits.apply(next.id, audit);
        return;
      }
      default:
        return;
    }
  }

  private markDirty(
    state: GraphState,
    applied: Applied,
    dirtyGraphs: Map<string, GraphState>,
    dirtyTasks: DirtyTasks,
  ): void {
    // The graph row carries updated_at and last_seq, so any change writes it too.
    dirtyGraphs.set(state.id, state);
    if (applied.tasks.size === 0) return;
    const taskIds = dirtyTasks.get(state.id);
    if (taskIds === undefined) dirtyTasks.set(state.id, new Set(applied.tasks));
    else for (const taskId of applied.tasks) taskIds.add(taskId);
  }

  private positionOf(state: GraphState, taskId: string): number {
    let positions = this.positions.get(state.tasks);
    if (!positions || positions.size !== state.tasks.size) {
      positions = new Map([...state.tasks.keys()].map((id, index) => [id, index]));
      this.positions.set(state.tasks, positions);
    }
    return positions.get(taskId) ?? state.tasks.size;
  }

  private updateIndexes(
    graphs: Map<string, GraphState>,
    tasks: ReadonlyArray<{ graphId: string; taskId: string }>,
  ): void {
    const index = this.readyIndex;
    for (const { graphId, taskId } of tasks) {
      const state = graphs.get(graphId);
      const task = state?.tasks.get(taskId);
      this.claims.set(graphId, taskId, task?.status === 'CLAIMED' ? task.claim : null);
      if (!index) continue;
      if (state && task?.status === 'READY' && isDispatching(state)) {
        index.upsert({
          graphId,
          taskId,
          priority: state.options.priority,
          readySeq: task.readySeq,
          availableAt: task.availableAt,
          capability: task.capability,
        });
      } else {
        index.remove(graphId, taskId);
      }
    }
  }

  private loadIndexes(): void {
    this.claims.clear();
    const claimed = this.readModel.db
      .prepare(
        `SELECT graph_id, id, assignee, claim_request_id, claim_token FROM tasks
         WHERE status = 'CLAIMED' AND claim_token IS NOT NULL`,
      )
      .all() as Array<{
      graph_id: string;
      id: string;
      assignee: string;
      claim_request_id: string;
      claim_token: string;
    }>;
    for (const row of claimed) {
      this.claims.set(row.graph_id, row.id, {
        agentId: row.assignee ?? '',
        requestId: row.claim_request_id ?? '',
        token: row.claim_token,
      });
    }
    const index = this.readyIndex;
    if (!index) return;
    index.clear();
    const rows = this.readModel.db
      .prepare(
        `SELECT t.graph_id, t.id, t.ready_seq, t.available_at, t.capability, g.priority
         FROM tasks t JOIN graphs g ON g.id = t.graph_id
         WHERE t.status = 'READY' AND g.status IN ('RUNNING', 'SYNTHESIZING')
         ORDER BY t.ready_seq`,
      )
      .all() as Array<{
      graph_id: string;
      id: string;
      ready_seq: number;
      available_at: number;
      capability: string | null;
      priority: number;
    }>;
    for (const row of rows) {
      index.upsert({
        graphId: row.graph_id,
        taskId: row.id,
        priority: row.priority,
        readySeq: row.ready_seq,
        availableAt: row.available_at,
        capability: row.capability,
      });
    }
  }

  private resolveWaiters(): void {
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const waiter of this.waiters) {
      if (waiter.seq <= this.applied) {
        if (waiter.timer) clearTimeout(waiter.timer);
        waiter.resolve(true);
      } else {
        still.push(waiter);
      }
    }
    this.waiters = still;
  }
}

/** Captures who held the claim before a result event clears it. */
function claimBefore(state: GraphState | null, graphId: string, taskId: string): ResultClaim | null {
  const task = state?.tasks.get(taskId);
  if (!task?.claim) return null;
  return { graphId, taskId, cycle: task.cycle, attempt: task.claim.attempt, agentId: task.claim.agentId };
}

/** An event must sit on its own aggregate's subject; anything else is recorded, never applied. */
function subjectMismatch(ref: NonNullable<ReturnType<Subjects['parse']>>, event: DomainEvent): string | null {
  switch (ref.kind) {
    case 'agent':
      return AGENT_EVENT_TYPES.has(event.type) ? null : 'wrong_subject';
    case 'progress':
      return event.type === 'TaskProgressed' && event.graphId === ref.graphId && event.taskId === ref.taskId
        ? null
        : 'wrong_subject';
    case 'task':
      return TASK_EVENT_TYPES.has(event.type) &&
        event.type !== 'TaskProgressed' &&
        event.graphId === ref.graphId &&
        event.taskId === ref.taskId
        ? null
        : 'wrong_subject';
    case 'graph':
      return !TASK_EVENT_TYPES.has(event.type) &&
        !AGENT_EVENT_TYPES.has(event.type) &&
        event.graphId === ref.graphId
        ? null
        : 'wrong_subject';
    default: {
      const unreachable: never = ref;
      return unreachable;
    }
  }
}
