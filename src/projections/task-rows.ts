import type { TaskState } from '../events/index.ts';
import type { TaskKind, TaskStatus } from '../protocol/index.ts';

// The tasks table's row shape and its mapping to and from the aggregate's TaskState.

export interface TaskRef {
  graph_id: string;
  id: string;
}

export interface TaskRow {
  graph_id: string;
  id: string;
  position: number;
  kind: string;
  title: string;
  instructions: string;
  depends_on: string;
  capability: string | null;
  status: string;
  attempts: number;
  cycle: number;
  completed_cycle: number | null;
  claim_token: string | null;
  assignee: string | null;
  claim_request_id: string | null;
  claim_attempt: number | null;
  claimed_at: number | null;
  lease_until: number | null;
  available_at: number;
  ready_seq: number;
  last_seq: number;
  last_result_token: string | null;
  last_result_seq: number | null;
  last_result_agent: string | null;
}

export const TASK_COLUMNS = [
  'graph_id',
  'id',
  'position',
  'kind',
  'title',
  'instructions',
  'depends_on',
  'capability',
  'status',
  'attempts',
  'cycle',
  'completed_cycle',
  'claim_token',
  'assignee',
  'claim_request_id',
  'claim_attempt',
  'claimed_at',
  'lease_until',
  'available_at',
  'ready_seq',
  'last_seq',
  'last_result_token',
  'last_result_seq',
  'last_result_agent',
] as const;

/**
 * The columns a TaskState is read back from: a SQLite row keeps `depends_on` as JSON text, a Postgres row
 * (src/projections/postgres) as an array.
 */
export type TaskStateColumns = Omit<TaskRow, 'graph_id' | 'position' | 'depends_on'> & {
  depends_on: string | readonly string[];
};

export function taskStateFromRow(row: TaskStateColumns): TaskState {
  return {
    id: row.id,
    kind: row.kind as TaskKind,
    title: row.title,
    instructions: row.instructions,
    dependsOn:
      typeof row.depends_on === 'string' ? (JSON.parse(row.depends_on) as string[]) : [...row.depends_on],
    capability: row.capability,
    status: row.status as TaskStatus,
    attempts: row.attempts,
    cycle: row.cycle,
    completedCycle: row.completed_cycle,
    claim:
      row.claim_token === null
        ? null
        : {
            token: row.claim_token,
            agentId: row.assignee ?? '',
            requestId: row.claim_request_id ?? '',
            attempt: row.claim_attempt ?? 0,
            claimedAt: row.claimed_at ?? 0,
            leaseUntil: row.lease_until ?? 0,
          },
    availableAt: row.available_at,
    readySeq: row.ready_seq,
    lastSeq: row.last_seq,
    lastResult:
      row.last_result_token === null
        ? null
        : {
            token: row.last_result_token,
            seq: row.last_result_seq ?? 0,
            ...(row.last_result_agent === null ? {} : { agentId: row.last_result_agent }),
          },
  };
}

/** The columns that change after planning, in the order both the insert and the update list them. */
export function stateValues(task: TaskState) {
  const claim = task.claim;
  return [
    task.status,
    task.attempts,
    task.cycle,
    task.completedCycle,
    claim?.token ?? null,
    claim?.agentId ?? null,
    claim?.requestId ?? null,
    claim?.attempt ?? null,
    claim?.claimedAt ?? null,
    claim?.leaseUntil ?? null,
    task.availableAt,
    task.readySeq,
    task.lastSeq,
    task.lastResult?.token ?? null,
    task.lastResult?.seq ?? null,
    task.lastResult?.agentId ?? null,
  ] as const;
}
