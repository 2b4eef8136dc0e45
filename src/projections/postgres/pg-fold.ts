import {
  type AgentState,
  advanceSubjectSeq,
  type DecodeResult,
  type DomainEvent,
  decodeEvent,
  evolveAgent,
  evolveGraph,
  type FoldContext,
  type GraphState,
  type RawStoredMessage,
  type Subjects,
} from '../../events/index.ts';
import { claimBefore, type ResultClaim } from '../results-projection.ts';
import { subjectMismatch } from '../subject-check.ts';

/** An accepted result (completion or failed attempt), as the results table holds it. */
export interface PgResultRow {
  seq: number;
  graph_id: string;
  task_id: string;
  cycle: number;
  attempt: number;
  status: 'completed' | 'failed';
  agent_id: string;
  output: string | null;
  history: unknown;
  usage: unknown;
  model: string | null;
  error: unknown;
  at: string;
  /** When the claim the result answers was taken (not in the SQLite table): how long the attempt took. */
  claimed_at: string;
}

export interface PgAuditRow {
  graph_id: string;
  cycle: number;
  seq: number;
  passed: boolean;
  report: unknown;
  rework: readonly string[];
  at: string;
}

export interface PgSkippedRow {
  seq: number;
  subject: string;
  type: string | null;
  reason: string;
}

/** Every stored message, decoded or not: the events table. */
export interface PgEventRow {
  seq: number;
  subject: string;
  type: string | null;
  graph_id: string | null;
  task_id: string | null;
  at: string | null;
  actor: string | null;
  data: unknown;
}

/** What one batch changed: the aggregates to write whole, and the rows to insert. */
export interface PgFoldedBatch {
  graphs: Map<string, GraphState>;
  /** Task ids whose rows changed, by graph id. */
  tasks: Map<string, Set<string>>;
  agents: Map<string, AgentState>;
  results: PgResultRow[];
  audits: PgAuditRow[];
  skipped: PgSkippedRow[];
  events: PgEventRow[];
}

/** The aggregates a batch folds into: its graphs (null: not in the read model) and every agent. */
export interface PgFoldState {
  graphs: Map<string, GraphState | null>;
  agents: Map<string, AgentState>;
}

/**
 * The Postgres read model's fold: the SQLite BatchFold's meaning (decode, subject checks, evolveGraph and
 * evolveAgent with the revocations folded so far, results with the claim they answer, audits, skipped
 * events) into row objects instead of statements, plus one events row per stored message. Synchronous:
 * everything the batch reads is loaded into `state` before (see graphIdsOf); it changes `state` in place.
 */
export function foldBatch(
  messages: readonly RawStoredMessage[],
  subjects: Subjects,
  state: PgFoldState,
): PgFoldedBatch {
  const out: PgFoldedBatch = {
    graphs: new Map(),
    tasks: new Map(),
    agents: new Map(),
    results: [],
    audits: [],
    skipped: [],
    events: [],
  };
  const context: FoldContext = { revokedSeq: (agentId) => state.agents.get(agentId)?.revokedSeq ?? null };
  for (const message of messages) foldOne(message, subjects, state, context, out);
  return out;
}

/** The graphs a batch's messages are about (those the fold will read). */
export function graphIdsOf(messages: readonly RawStoredMessage[], subjects: Subjects): Set<string> {
  const ids = new Set<string>();
  for (const { subject } of messages) {
    const ref = subjects.parse(subject);
    if (ref !== null && ref.kind !== 'agent') ids.add(ref.graphId);
  }
  return ids;
}

function foldOne(
  message: RawStoredMessage,
  subjects: Subjects,
  state: PgFoldState,
  context: FoldContext,
  out: PgFoldedBatch,
): void {
  const { seq, subject } = message;
  const ref = subjects.parse(subject);
  const decoded: DecodeResult =
    message.checked === undefined ? decodeEvent(message.data) : { ok: true, event: message.checked };
  out.events.push(eventRow(seq, subject, ref, decoded.ok ? decoded.event : null));
  const skip = (type: string | null, reason: string) => out.skipped.push({ seq, subject, type, reason });
  if (!decoded.ok || ref === null) {
    skip(
      decoded.ok ? decoded.event.type : null,
      ref === null || decoded.ok ? 'unknown_subject' : decoded.reason,
    );
    if (ref && (ref.kind === 'graph' || ref.kind === 'task')) {
      const graph = state.graphs.get(ref.graphId);
      if (graph) markDirty(graph, advanceSubjectSeq(graph, ref, seq).tasks, out);
    }
    return;
  }
  const event = decoded.event;
  const mismatch = subjectMismatch(ref, event);
  if (mismatch) {
    skip(event.type, mismatch);
    return;
  }
  const recorded = { seq, subject, event };
  if (ref.kind === 'agent') {
    const next = evolveAgent(state.agents.get(ref.agentId) ?? null, recorded);
    if (next) {
      state.agents.set(next.id, next);
      out.agents.set(next.id, next);
    }
    return;
  }
  const graph = state.graphs.get(ref.graphId) ?? null;
  if (ref.kind === 'progress') {
    if (!(graph?.tasks.has(ref.taskId) && event.type === 'TaskProgressed')) skip(event.type, 'unknown_task');
    return;
  }
  // Before the fold, which changes the aggregate in place and clears the claim a result answers.
  const claim = ref.kind === 'task' ? claimBefore(graph, ref.graphId, ref.taskId) : null;
  const claimedAt = claim === null ? null : (graph?.tasks.get(claim.taskId)?.claim?.claimedAt ?? null);
  const { state: next, applied } = evolveGraph(graph, recorded, context);
  if (next === null) {
    skip(event.type, applied.anomaly ?? 'unknown_graph');
    return;
  }
  state.graphs.set(next.id, next);
  markDirty(next, applied.tasks, out);
  if (applied.anomaly !== null) {
    skip(event.type, applied.anomaly);
    return;
  }
  switch (event.type) {
    case 'TaskCompleted':
    case 'TaskAttemptFailed':
    case 'TaskFailed':
      if (claim) out.results.push(resultRow(seq, event, claim, claimedAt));
      return;
    case 'AuditPassed':
    case 'AuditFailed': {
      const audit = next.audits[next.audits.length - 1];
      if (audit) {
        out.audits.push({
          graph_id: next.id,
          cycle: audit.cycle,
          seq: audit.seq,
          passed: audit.passed,
          report: audit.report,
          rework: audit.rework,
          at: audit.at,
        });
      }
      return;
    }
    default:
      return;
  }
}

function markDirty(graph: GraphState, tasks: ReadonlySet<string>, out: PgFoldedBatch): void {
  // The graph row carries updated_at and last_seq, so any change writes it too.
  out.graphs.set(graph.id, graph);
  if (tasks.size === 0) return;
  const dirty = out.tasks.get(graph.id);
  if (dirty === undefined) out.tasks.set(graph.id, new Set(tasks));
  else for (const taskId of tasks) dirty.add(taskId);
}

function eventRow(
  seq: number,
  subject: string,
  ref: ReturnType<Subjects['parse']>,
  event: DomainEvent | null,
): PgEventRow {
  return {
    seq,
    subject,
    type: event?.type ?? null,
    graph_id: ref === null || ref.kind === 'agent' ? null : ref.graphId,
    task_id: ref !== null && (ref.kind === 'task' || ref.kind === 'progress') ? ref.taskId : null,
    at: event?.at ?? null,
    actor: event?.actor ?? null,
    data: event?.data ?? null,
  };
}

type ResultEvent = Extract<DomainEvent, { type: 'TaskCompleted' | 'TaskAttemptFailed' | 'TaskFailed' }>;

function resultRow(
  seq: number,
  event: ResultEvent,
  claim: ResultClaim,
  claimedAt: number | null,
): PgResultRow {
  const common = {
    seq,
    graph_id: claim.graphId,
    task_id: claim.taskId,
    cycle: claim.cycle,
    attempt: claim.attempt,
    agent_id: claim.agentId,
    at: event.at,
    claimed_at: new Date(claimedAt ?? Date.parse(event.at)).toISOString(),
  };
  switch (event.type) {
    case 'TaskCompleted': {
      const { result } = event.data;
      return {
        ...common,
        status: 'completed',
        output: result.output,
        history: result.history,
        usage: result.usage ?? null,
        model: result.model ?? null,
        error: null,
      };
    }
    case 'TaskAttemptFailed':
    case 'TaskFailed':
      return {
        ...common,
        status: 'failed',
        output: null,
        history: event.data.history,
        usage: null,
        model: null,
        error: event.data.error,
      };
    default: {
      const unreachable: never = event;
      throw new Error(`not a result event: ${(unreachable as { type: string }).type}`);
    }
  }
}
