import type { GraphState, TaskState } from '../../events/index.ts';
import type { PgQueryable } from './pg-connection.ts';
import type { PgFoldedBatch } from './pg-fold.ts';
import { pgJson } from './pg-json.ts';

/** A table's columns with their Postgres types, in the order rows are written. */
type Columns = ReadonlyArray<readonly [name: string, type: string]>;

const GRAPH_COLUMNS: Columns = [
  ['id', 'text'],
  ['status', 'text'],
  ['goal', 'text'],
  ['options', 'jsonb'],
  ['priority', 'integer'],
  ['submitted_by', 'text'],
  ['idempotency_key', 'text'],
  ['explicit', 'boolean'],
  ['cycle', 'integer'],
  ['completed_cycle', 'integer'],
  ['planning', 'jsonb'],
  ['audit_marker', 'jsonb'],
  ['failure_reason', 'text'],
  ['failure_message', 'text'],
  ['output', 'text'],
  ['created_at', 'timestamptz'],
  ['updated_at', 'timestamptz'],
  ['submitted_seq', 'bigint'],
  ['last_seq', 'bigint'],
];

const TASK_COLUMNS: Columns = [
  ['graph_id', 'text'],
  ['id', 'text'],
  ['position', 'integer'],
  ['kind', 'text'],
  ['title', 'text'],
  ['instructions', 'text'],
  ['depends_on', 'jsonb'],
  ['capability', 'text'],
  ['status', 'text'],
  ['attempts', 'integer'],
  ['cycle', 'integer'],
  ['completed_cycle', 'integer'],
  ['claim_token', 'text'],
  ['assignee', 'text'],
  ['claim_request_id', 'text'],
  ['claim_attempt', 'integer'],
  ['claimed_at', 'bigint'],
  ['lease_until', 'bigint'],
  ['available_at', 'bigint'],
  ['ready_seq', 'bigint'],
  ['last_seq', 'bigint'],
  ['last_result_token', 'text'],
  ['last_result_seq', 'bigint'],
  ['last_result_agent', 'text'],
];

const RESULT_COLUMNS: Columns = [
  ['seq', 'bigint'],
  ['graph_id', 'text'],
  ['task_id', 'text'],
  ['cycle', 'integer'],
  ['attempt', 'integer'],
  ['status', 'text'],
  ['agent_id', 'text'],
  ['output', 'text'],
  ['history', 'jsonb'],
  ['usage', 'jsonb'],
  ['model', 'text'],
  ['error', 'jsonb'],
  ['at', 'timestamptz'],
  ['claimed_at', 'timestamptz'],
];

const AUDIT_COLUMNS: Columns = [
  ['graph_id', 'text'],
  ['cycle', 'integer'],
  ['seq', 'bigint'],
  ['passed', 'boolean'],
  ['report', 'jsonb'],
  ['rework', 'jsonb'],
  ['at', 'timestamptz'],
];

const AGENT_COLUMNS: Columns = [
  ['id', 'text'],
  ['role', 'text'],
  ['status', 'text'],
  ['created_at', 'timestamptz'],
  ['revoked_at', 'timestamptz'],
  ['revoked_seq', 'bigint'],
  ['last_seq', 'bigint'],
];

const SKIPPED_COLUMNS: Columns = [
  ['seq', 'bigint'],
  ['subject', 'text'],
  ['type', 'text'],
  ['reason', 'text'],
];

const EVENT_COLUMNS: Columns = [
  ['seq', 'bigint'],
  ['subject', 'text'],
  ['type', 'text'],
  ['graph_id', 'text'],
  ['task_id', 'text'],
  ['at', 'timestamptz'],
  ['actor', 'text'],
  ['data', 'jsonb'],
];

/**
 * One statement per table and batch: the rows go as one JSON array parameter that json_to_recordset
 * turns into typed rows, so a batch of a thousand events costs a handful of round trips, and every value
 * passes through pgJson (no NUL or lone surrogate reaches Postgres). Rows keyed by the stream sequence
 * (results, events, skipped) and audits (one per cycle) are inserted once and never changed; aggregates
 * (graphs, tasks, agents) are written whole over their previous row. `created_at` of a graph is never
 * rewritten.
 */
const STATEMENTS = {
  graphs: upsert('graphs', GRAPH_COLUMNS, ['id'], ['created_at']),
  tasks: upsert('tasks', TASK_COLUMNS, ['graph_id', 'id']),
  agents: upsert('agents', AGENT_COLUMNS, ['id']),
  results: insertOnce('results', RESULT_COLUMNS, ['seq']),
  audits: insertOnce('audits', AUDIT_COLUMNS, ['graph_id', 'cycle']),
  skipped: insertOnce('skipped', SKIPPED_COLUMNS, ['seq']),
  events: insertOnce('events', EVENT_COLUMNS, ['seq']),
};

/** Writes a folded batch's rows (inside the caller's transaction). */
export async function writeBatch(db: PgQueryable, batch: PgFoldedBatch): Promise<void> {
  if (batch.graphs.size > 0) await write(db, STATEMENTS.graphs, [...batch.graphs.values()].map(graphRow));
  const tasks: object[] = [];
  for (const [graphId, taskIds] of batch.tasks) {
    const graph = batch.graphs.get(graphId);
    if (!graph) continue;
    const positions = positionsOf(graph);
    for (const taskId of taskIds) {
      const task = graph.tasks.get(taskId);
      if (task) tasks.push(taskRow(graphId, positions.get(taskId) ?? graph.tasks.size, task));
    }
  }
  await write(db, STATEMENTS.tasks, tasks);
  await write(
    db,
    STATEMENTS.agents,
    [...batch.agents.values()].map((agent) => ({
      id: agent.id,
      role: agent.role,
      status: agent.status,
      created_at: agent.createdAt,
      revoked_at: agent.revokedAt,
      revoked_seq: agent.revokedSeq,
      last_seq: agent.lastSeq,
    })),
  );
  await write(db, STATEMENTS.results, batch.results);
  await write(db, STATEMENTS.audits, batch.audits);
  await write(db, STATEMENTS.skipped, batch.skipped);
  await write(db, STATEMENTS.events, batch.events);
}

async function write(db: PgQueryable, sql: string, rows: readonly object[]): Promise<void> {
  if (rows.length > 0) await db.query(sql, [pgJson(rows)]);
}

function recordset(columns: Columns): string {
  const names = columns.map(([name]) => name).join(', ');
  const typed = columns.map(([name, type]) => `${name} ${type}`).join(', ');
  return `(${names}) SELECT ${names} FROM json_to_recordset($1::json) AS r(${typed})`;
}

function upsert(table: string, columns: Columns, key: string[], keep: string[] = []): string {
  const set = columns
    .map(([name]) => name)
    .filter((name) => !key.includes(name) && !keep.includes(name))
    .map((name) => `${name} = excluded.${name}`)
    .join(', ');
  return `INSERT INTO ${table} ${recordset(columns)} ON CONFLICT (${key.join(', ')}) DO UPDATE SET ${set}`;
}

function insertOnce(table: string, columns: Columns, key: string[]): string {
  return `INSERT INTO ${table} ${recordset(columns)} ON CONFLICT (${key.join(', ')}) DO NOTHING`;
}

function graphRow(state: GraphState): object {
  return {
    id: state.id,
    status: state.status,
    goal: state.goal,
    options: state.options,
    priority: state.options.priority,
    submitted_by: state.submittedBy,
    idempotency_key: state.idempotencyKey,
    explicit: state.explicit,
    cycle: state.cycle,
    completed_cycle: state.completedCycle,
    planning: state.planning,
    audit_marker: state.audit,
    failure_reason: state.failure?.reason ?? null,
    failure_message: state.failure?.message ?? null,
    output: state.output,
    created_at: state.createdAt,
    updated_at: state.updatedAt,
    submitted_seq: state.submittedSeq,
    last_seq: state.lastSeq,
  };
}

function taskRow(graphId: string, position: number, task: TaskState): object {
  const claim = task.claim;
  return {
    graph_id: graphId,
    id: task.id,
    position,
    kind: task.kind,
    title: task.title,
    instructions: task.instructions,
    depends_on: task.dependsOn,
    capability: task.capability,
    status: task.status,
    attempts: task.attempts,
    cycle: task.cycle,
    completed_cycle: task.completedCycle,
    claim_token: claim?.token ?? null,
    assignee: claim?.agentId ?? null,
    claim_request_id: claim?.requestId ?? null,
    claim_attempt: claim?.attempt ?? null,
    claimed_at: claim?.claimedAt ?? null,
    lease_until: claim?.leaseUntil ?? null,
    available_at: task.availableAt,
    ready_seq: task.readySeq,
    last_seq: task.lastSeq,
    last_result_token: task.lastResult?.token ?? null,
    last_result_seq: task.lastResult?.seq ?? null,
    last_result_agent: task.lastResult?.agentId ?? null,
  };
}

/** Plan order (the task map's order, synthesis last), as the SQLite tasks.position. */
function positionsOf(graph: GraphState): Map<string, number> {
  const positions = new Map<string, number>();
  let index = 0;
  for (const id of graph.tasks.keys()) positions.set(id, index++);
  return positions;
}
