import { SYNTHESIS_TASK_ID } from '../protocol/index.ts';
import type { DomainEvent, EventOf, RecordedEvent } from './domain-event.ts';
import { applyTaskEvent } from './evolve-task.ts';
import { type FoldContext, NO_REVOCATIONS } from './fold-context.ts';
import type { Applied, GraphState } from './graph-state.ts';
import { isRetryableFailure, isTerminal } from './graph-state.ts';
import { deriveReady, makeSynthesisReady, plan, rework } from './graph-transitions.ts';

/**
 * The graph aggregate's fold over its trail (graph and task subjects). Deterministic and free of I/O:
 * everything comes from the event and its sequence.
 *
 * It updates `state` in place and reports what it touched. A graph of 500 tasks receives thousands of
 * events; copying its task map on every one would dominate replay time, so the caller owns the state
 * (a projector's cache, a test's fold) and deciders only read it.
 *
 * Rules that no append can break:
 * - A TaskClaimed that arrives when its task is not READY is void ("first claim wins"): even a double
 *   append never yields two holders.
 * - A TaskClaimed stored after its agent's AgentRevoked is void (`context`): a node that had not yet
 *   applied the revocation when it decided the claim cannot give a revoked agent a task.
 * - A TaskCompleted/TaskAttemptFailed/… whose claim token is not the task's current claim is void.
 * - READY is derived here, in the same fold step as the completion that unblocks a task.
 */
export function evolveGraph(
  state: GraphState | null,
  recorded: RecordedEvent,
  context: FoldContext = NO_REVOCATIONS,
): { state: GraphState | null; applied: Applied } {
  const { event, seq } = recorded;
  const applied: Applied = { graph: false, tasks: new Set(), anomaly: null };
  if (event.type === 'GraphSubmitted') {
    if (state !== null) return { state, applied: { ...applied, anomaly: 'graph_exists' } };
    return { state: submitted(event, seq, applied), applied };
  }
  if (state === null) return { state, applied: { ...applied, anomaly: 'unknown_graph' } };
  applied.anomaly = applyToGraph(state, event, seq, applied, context);
  if (applied.graph || applied.tasks.size > 0) state.updatedAt = event.at;
  return { state, applied };
}

/** Folds a whole trail from nothing (tests, tools, `am events`). */
export function foldGraph(
  trail: readonly RecordedEvent[],
  context: FoldContext = NO_REVOCATIONS,
): GraphState | null {
  let state: GraphState | null = null;
  for (const recorded of trail) state = evolveGraph(state, recorded, context).state;
  return state;
}

function submitted(event: EventOf<'GraphSubmitted'>, seq: number, applied: Applied): GraphState {
  const state: GraphState = {
    id: event.graphId ?? '',
    status: 'SUBMITTED',
    goal: event.data.goal,
    options: event.data.options,
    submittedBy: event.actor,
    idempotencyKey: event.data.idempotencyKey,
    explicit: event.data.tasks !== null,
    cycle: 0,
    completedCycle: 0,
    planning: null,
    audit: null,
    audits: [],
    failure: null,
    output: null,
    createdAt: event.at,
    updatedAt: event.at,
    submittedSeq: seq,
    lastSeq: seq,
    tasks: new Map(),
    dependents: new Map(),
  };
  applied.graph = true;
  if (event.data.tasks !== null) plan(state, event.data.tasks, seq, event.at, applied);
  return state;
}

/** Applies one event and returns the anomaly it was by rule, or null. */
function applyToGraph(
  state: GraphState,
  event: DomainEvent,
  seq: number,
  applied: Applied,
  context: FoldContext,
): string | null {
  switch (event.type) {
    case 'GraphSubmitted':
      return 'graph_exists'; // evolveGraph handles a first submission
    case 'PlanningStarted':
      state.lastSeq = seq;
      applied.graph = true;
      if (state.status !== 'SUBMITTED' && state.status !== 'PLANNING') return 'not_planning';
      state.status = 'PLANNING';
      state.planning = { attempts: event.data.attempt, leaseUntil: event.data.leaseUntil };
      return null;
    case 'GraphPlanned':
      state.lastSeq = seq;
      applied.graph = true;
      if (state.status !== 'SUBMITTED' && state.status !== 'PLANNING') return 'not_planning';
      plan(state, event.data.tasks, seq, event.at, applied);
      return null;
    case 'GraphPlanningFailed':
      state.lastSeq = seq;
      applied.graph = true;
      if (state.status !== 'SUBMITTED' && state.status !== 'PLANNING') return 'not_planning';
      state.status = 'FAILED';
      state.failure = { reason: 'planning_failed', message: `${event.data.code}: ${event.data.message}` };
      return null;
    case 'GraphCompleted':
      state.lastSeq = seq;
      applied.graph = true;
      if (state.status !== 'RUNNING' || event.data.cycle !== state.cycle) return 'not_current_cycle';
      state.status = 'AUDITING';
      state.completedCycle = event.data.cycle;
      state.audit = null;
      return null;
    case 'AuditStarted':
      state.lastSeq = seq;
      applied.graph = true;
      if (state.status !== 'AUDITING' || event.data.cycle !== state.cycle) return 'not_auditing';
      state.audit = {
        cycle: event.data.cycle,
        attempts: event.data.attempt,
        leaseUntil: event.data.leaseUntil,
      };
      return null;
    case 'AuditPassed':
      state.lastSeq = seq;
      applied.graph = true;
      if (state.status !== 'AUDITING' || event.data.cycle !== state.cycle) return 'not_auditing';
      state.audits.push({
        cycle: event.data.cycle,
        passed: true,
        report: event.data.report,
        rework: [],
        seq,
        at: event.at,
      });
      state.status = 'SYNTHESIZING';
      state.audit = null;
      makeSynthesisReady(state, seq, event.at, applied);
      return null;
    case 'AuditFailed':
      state.lastSeq = seq;
      applied.graph = true;
      if (state.status !== 'AUDITING' || event.data.cycle !== state.cycle) return 'not_auditing';
      state.audits.push({
        cycle: event.data.cycle,
        passed: false,
        report: event.data.report,
        rework: event.data.rework,
        seq,
        at: event.at,
      });
      state.audit = null;
      if (event.data.rework.length > 0) rework(state, event.data.rework, seq, event.at, applied);
      return null;
    case 'GraphSucceeded':
      state.lastSeq = seq;
      applied.graph = true;
      if (state.status !== 'SYNTHESIZING') return 'not_synthesizing';
      state.status = 'SUCCEEDED';
      state.output = event.data.output;
      return null;
    case 'GraphFailed':
      state.lastSeq = seq;
      applied.graph = true;
      if (isTerminal(state)) return 'graph_finished';
      state.status = 'FAILED';
      state.failure = { reason: event.data.reason, message: event.data.message };
      state.planning = null;
      state.audit = null;
      // Outstanding work stops: claims are voided; READY work is no longer offered (a retry re-derives it).
      for (const task of state.tasks.values()) {
        if (task.status === 'READY' || task.status === 'CLAIMED') {
          task.status = 'PENDING';
          task.claim = null;
          applied.tasks.add(task.id);
        }
      }
      return null;
    case 'GraphCancelled':
      state.lastSeq = seq;
      applied.graph = true;
      if (isTerminal(state)) return 'graph_finished';
      state.status = 'CANCELLED';
      state.planning = null;
      state.audit = null;
      for (const task of state.tasks.values()) {
        if (task.status !== 'COMPLETED' && task.status !== 'FAILED' && task.status !== 'CANCELLED') {
          task.status = 'CANCELLED';
          task.claim = null;
          applied.tasks.add(task.id);
        }
      }
      return null;
    case 'GraphRetried':
      state.lastSeq = seq;
      applied.graph = true;
      if (state.status !== 'FAILED' || !isRetryableFailure(state.failure?.reason)) return 'not_retryable';
      state.status = 'RUNNING';
      state.failure = null;
      for (const id of event.data.tasks) {
        const task = state.tasks.get(id);
        if (task?.status !== 'FAILED') continue;
        task.status = 'PENDING';
        task.attempts = 0;
        applied.tasks.add(id);
      }
      // A graph that failed in its synthesis goes back to synthesizing: its cycle's audit already passed,
      // and RUNNING would wait forever for a GraphCompleted that was recorded already.
      if (state.audits.some((audit) => audit.cycle === state.cycle && audit.passed)) {
        state.status = 'SYNTHESIZING';
        const synthesis = state.tasks.get(SYNTHESIS_TASK_ID);
        if (synthesis?.status === 'PENDING') {
          synthesis.status = 'READY';
          synthesis.readySeq = seq;
          synthesis.availableAt = Date.parse(event.at);
          applied.tasks.add(synthesis.id);
        }
        return null;
      }
      // Everything that was stopped when the graph failed is re-derived.
      for (const task of state.tasks.values()) deriveReady(state, task, seq, event.at, applied);
      return null;
    case 'TaskClaimed':
    case 'TaskLeaseExtended':
    case 'TaskReleased':
    case 'TaskCompleted':
    case 'TaskAttemptFailed':
    case 'TaskLeaseExpired':
    case 'TaskFailed':
    case 'TaskCancelled':
    case 'TaskProgressed':
      return applyTaskEvent(state, event, seq, applied, context);
    case 'AgentRegistered':
    case 'AgentCredentialsRotated':
    case 'AgentRevoked':
      return 'not_a_graph_event';
    default: {
      const unreachable: never = event;
      throw new Error(`unhandled event ${(unreachable as DomainEvent).type}`);
    }
  }
}

/**
 * Moves a subject's last sequence past an event that could not be read (recorded as skipped), so the
 * next append's expected sequence still matches the stream.
 */
export function advanceSubjectSeq(
  state: GraphState,
  ref: { kind: 'graph' } | { kind: 'task'; taskId: string },
  seq: number,
): Applied {
  const applied: Applied = { graph: false, tasks: new Set(), anomaly: null };
  if (ref.kind === 'graph') {
    state.lastSeq = seq;
    applied.graph = true;
  } else {
    const task = state.tasks.get(ref.taskId);
    if (task) {
      task.lastSeq = seq;
      applied.tasks.add(task.id);
    }
  }
  return applied;
}
