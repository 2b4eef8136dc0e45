import type { AgentRole, AgentState, AuditState, GraphState } from '../../events/index.ts';
import type { AuditReport, GraphFailureReason, GraphOptions, GraphStatus } from '../../protocol/index.ts';
import { type TaskStateColumns, taskStateFromRow } from '../task-rows.ts';
import type { PgQueryable } from './pg-connection.ts';

// Aggregates read back from the Postgres rows (as the SQLite ReadModel.loadGraphState does from its rows):
// a graph that is not in memory (a restart, an evicted or rolled-back cache) is folded on from these.

interface GraphRow {
  id: string;
  status: string;
  goal: string;
  options: GraphOptions;
  submitted_by: string;
  idempotency_key: string | null;
  explicit: boolean;
  cycle: number;
  completed_cycle: number;
  planning: GraphState['planning'];
  audit_marker: GraphState['audit'];
  failure_reason: string | null;
  failure_message: string | null;
  output: string | null;
  created_at: string;
  updated_at: string;
  submitted_seq: number;
  last_seq: number;
}

/** A Postgres task row: the columns a TaskState is read from (depends_on as an array), and its graph. */
type TaskRow = TaskStateColumns & { graph_id: string; depends_on: string[] };

interface AuditRow {
  graph_id: string;
  cycle: number;
  seq: number;
  passed: boolean;
  report: AuditReport;
  rework: string[];
  at: string;
}

interface AgentRow {
  id: string;
  role: string;
  status: string;
  created_at: string;
  revoked_at: string | null;
  revoked_seq: number | null;
  last_seq: number;
}

/** The graph aggregates of `ids` that the read model holds (absent ids are not in it). */
export async function loadGraphStates(
  db: PgQueryable,
  ids: readonly string[],
): Promise<Map<string, GraphState>> {
  const states = new Map<string, GraphState>();
  if (ids.length === 0) return states;
  const graphs = await db.query<GraphRow>('SELECT * FROM graphs WHERE id = ANY($1)', [ids]);
  if (graphs.rows.length === 0) return states;
  for (const row of graphs.rows) states.set(row.id, graphState(row));
  const found = [...states.keys()];
  const tasks = await db.query<TaskRow>(
    'SELECT * FROM tasks WHERE graph_id = ANY($1) ORDER BY graph_id, position',
    [found],
  );
  for (const row of tasks.rows) {
    const state = states.get(row.graph_id);
    if (!state) continue;
    const task = taskStateFromRow(row);
    state.tasks.set(task.id, task);
    if (task.kind !== 'work') continue;
    for (const dep of task.dependsOn) {
      const list = state.dependents.get(dep);
      if (list) list.push(task.id);
      else state.dependents.set(dep, [task.id]);
    }
  }
  const audits = await db.query<AuditRow>(
    'SELECT * FROM audits WHERE graph_id = ANY($1) ORDER BY graph_id, cycle',
    [found],
  );
  for (const row of audits.rows) states.get(row.graph_id)?.audits.push(auditState(row));
  return states;
}

/**
 * Every agent the read model holds, as much of the aggregate as the graph fold needs (its revocation).
 * The token and NATS password hashes are not copied to Postgres: they come back empty.
 */
export async function loadAgents(db: PgQueryable): Promise<Map<string, AgentState>> {
  const rows = await db.query<AgentRow>('SELECT * FROM agents');
  return new Map(
    rows.rows.map((row) => [
      row.id,
      {
        id: row.id,
        role: row.role as AgentRole,
        tokenHash: '',
        natsPasswordHash: null,
        status: row.status as AgentState['status'],
        createdAt: row.created_at,
        revokedAt: row.revoked_at,
        revokedSeq: row.revoked_seq,
        lastSeq: row.last_seq,
      },
    ]),
  );
}

function graphState(row: GraphRow): GraphState {
  return {
    id: row.id,
    status: row.status as GraphStatus,
    goal: row.goal,
    options: row.options,
    submittedBy: row.submitted_by,
    idempotencyKey: row.idempotency_key,
    explicit: row.explicit,
    cycle: row.cycle,
    completedCycle: row.completed_cycle,
    planning: row.planning,
    audit: row.audit_marker,
    audits: [],
    failure:
      row.failure_reason === null
        ? null
        : { reason: row.failure_reason as GraphFailureReason, message: row.failure_message ?? '' },
    output: row.output,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    submittedSeq: row.submitted_seq,
    lastSeq: row.last_seq,
    tasks: new Map(),
    dependents: new Map(),
  };
}

function auditState(row: AuditRow): AuditState {
  return {
    cycle: row.cycle,
    passed: row.passed,
    report: row.report,
    rework: row.rework,
    seq: row.seq,
    at: row.at,
  };
}
