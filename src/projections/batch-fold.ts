import {
  type Applied,
  advanceSubjectSeq,
  type DecodeResult,
  decodeEvent,
  evolveAgent,
  evolveGraph,
  type FoldContext,
  type GraphState,
  type RecordedEvent,
  type Subjects,
} from '../events/index.ts';
import type { AppliedBatch } from './applied-signals.ts';
import type { RawStoredMessage } from './feed-source.ts';
import type { GraphCache } from './graph-cache.ts';
import type { ReadModel } from './read-model.ts';
import { claimBefore } from './results-projection.ts';
import { subjectMismatch } from './subject-check.ts';

/** What one batch touched: the graphs and tasks to write, and (when someone listens) its events. */
export interface FoldedBatch {
  /** How many of the messages it applied (a time cap may stop it early). */
  count: number;
  graphs: Map<string, GraphState>;
  tasks: Array<{ graphId: string; taskId: string }>;
  events: AppliedBatch['events'];
}

/** The tasks a batch changed, by graph id. */
type DirtyTasks = Map<string, Set<string>>;

/**
 * Routes a batch of stored messages to the projections: decodes each (or takes it already checked),
 * folds graph and task events into the cached aggregates with `evolve`, agent events with `evolveAgent`,
 * hands results, audits and progress steps to their projections, records what it cannot apply, and then
 * writes each touched graph and task row once. It runs inside the projector's commit window.
 */
export class BatchFold {
  /** Task positions per aggregate's task map, computed once per plan. */
  readonly #positions = new WeakMap<Map<string, unknown>, Map<string, number>>();
  /** Revocations as folded so far: in stream order, every one stored before the event being folded. */
  readonly #context: FoldContext;

  constructor(
    private readonly readModel: ReadModel,
    private readonly subjects: Subjects,
    private readonly cache: GraphCache,
  ) {
    this.#context = { revokedSeq: (agentId) => readModel.agents.revokedSeq(agentId) };
  }

  /** Applies `messages` in order until `maxCount` or `maxMs`; collects events only when `withEvents`. */
  apply(
    messages: readonly RawStoredMessage[],
    limits: { maxCount: number; maxMs: number; withEvents: boolean },
  ): FoldedBatch {
    const startedAt = performance.now();
    const dirtyGraphs = new Map<string, GraphState>();
    // Task ids per graph: no key string or object per event, and each task is written once per batch.
    const dirtyTasks: DirtyTasks = new Map();
    const plannedGraphs = new Set<string>();
    const events: AppliedBatch['events'] | null = limits.withEvents ? [] : null;
    let count = 0;
    for (const message of messages) {
      this.#applyOne(message, dirtyGraphs, dirtyTasks, events, plannedGraphs);
      count += 1;
      if (count >= limits.maxCount || performance.now() - startedAt > limits.maxMs) break;
    }
    for (const state of dirtyGraphs.values()) this.readModel.graphs.write(state);
    const tasks: Array<{ graphId: string; taskId: string }> = [];
    for (const [graphId, taskIds] of dirtyTasks) {
      const state = dirtyGraphs.get(graphId);
      if (!state) continue;
      const planned = plannedGraphs.has(graphId);
      for (const taskId of taskIds) {
        tasks.push({ graphId, taskId });
        const task = state.tasks.get(taskId);
        if (!task) continue;
        if (planned) this.readModel.tasks.write(graphId, this.#positionOf(state, taskId), task);
        else this.readModel.tasks.update(graphId, task);
      }
    }
    // Only now: an aggregate evicted before its rows were written would be loaded back stale.
    this.cache.trim();
    return { count, graphs: dirtyGraphs, tasks, events: events ?? [] };
  }

  #applyOne(
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
        if (state) markDirty(state, advanceSubjectSeq(state, ref, seq), dirtyGraphs, dirtyTasks);
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
    const { state: next, applied } = evolveGraph(state, recorded, this.#context);
    if (next === null) {
      this.readModel.skipped.record(seq, subject, event.type, applied.anomaly ?? 'unknown_graph');
      return;
    }
    if (next !== state) this.cache.set(next);
    // Planning creates the task rows; every later change only updates their state columns.
    if ((event.type === 'GraphSubmitted' || event.type === 'GraphPlanned') && applied.anomaly === null) {
      plannedGraphs.add(next.id);
    }
    markDirty(next, applied, dirtyGraphs, dirtyTasks);
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

  #positionOf(state: GraphState, taskId: string): number {
    let positions = this.#positions.get(state.tasks);
    if (!positions || positions.size !== state.tasks.size) {
      positions = new Map([...state.tasks.keys()].map((id, index) => [id, index]));
      this.#positions.set(state.tasks, positions);
    }
    return positions.get(taskId) ?? state.tasks.size;
  }
}

function markDirty(
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
