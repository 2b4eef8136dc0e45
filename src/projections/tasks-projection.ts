import type Database from 'better-sqlite3';
import type { TaskState } from '../events/index.ts';
import type { TaskKind, TaskStatus } from '../protocol/index.ts';
import type { Migration } from './migration.ts';

/** One row per task, written from the graph aggregate's state after each batch that touched it. */
export const tasksMigrations: Migration[] = [
  {
    id: 'tasks-1',
    up: `CREATE TABLE tasks (
      graph_id TEXT NOT NULL,
      id TEXT NOT NULL,
      position INTEGER NOT NULL,
      kind TEXT NOT NULL,
      title TEXT NOT NULL,
      instructions TEXT NOT NULL,
      depends_on TEXT NOT NULL,
      capability TEXT,
      status TEXT NOT NULL,
      attempts INTEGER NOT NULL,
      cycle INTEGER NOT NULL,
      completed_cycle INTEGER,
      claim_token TEXT,
      assignee TEXT,
      claim_request_id TEXT,
      claim_attempt INTEGER,
      claimed_at INTEGER,
      lease_until INTEGER,
      available_at INTEGER NOT NULL,
      ready_seq INTEGER NOT NULL,
      last_seq INTEGER NOT NULL,
      last_result_token TEXT,
      last_result_seq INTEGER,
      PRIMARY KEY (graph_id, id)
    ) WITHOUT ROWID;
    CREATE INDEX tasks_claimed_by_lease ON tasks (lease_until) WHERE status = 'CLAIMED';
    CREATE INDEX tasks_ready ON tasks (ready_seq) WHERE status = 'READY';`,
  },
  {
    id: 'tasks-2',
    up: 'ALTER TABLE tasks ADD COLUMN last_result_agent TEXT',
  },
  {
    // (Superseded by tasks-4: those lookups moved to the in-memory ClaimIndex.)
    id: 'tasks-3',
    up: `CREATE INDEX tasks_claimed_by_request ON tasks (assignee, claim_request_id) WHERE status = 'CLAIMED';
    CREATE INDEX tasks_claimed_by_token ON tasks (claim_token) WHERE status = 'CLAIMED';`,
  },
  {
    // The claim lookups of every claim request are answered from memory (ClaimIndex); these two indexes
    // only cost upkeep on every claim and completion.
    id: 'tasks-4',
    up: `DROP INDEX IF EXISTS tasks_claimed_by_request;
    DROP INDEX IF EXISTS tasks_claimed_by_token;`,
  },
];

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

const COLUMNS = [
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

export class TasksProjection {
  /** dependsOn arrays never change after planning: serialise each once. */
  private readonly dependsOnJson = new WeakMap<readonly string[], string>();
  private readonly upsert: Database.Statement<unknown[]>;
  private readonly updateState: Database.Statement<unknown[]>;
  private readonly byGraph: Database.Statement<[string], TaskRow>;
  private readonly byId: Database.Statement<[string, string], TaskRow>;

  constructor(db: Database.Database) {
    this.upsert = db.prepare(
      `INSERT OR REPLACE INTO tasks (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`,
    );
    this.updateState = db.prepare(
      `UPDATE tasks SET status = ?, attempts = ?, cycle = ?, completed_cycle = ?, claim_token = ?, assignee = ?,
         claim_request_id = ?, claim_attempt = ?, claimed_at = ?, lease_until = ?, available_at = ?, ready_seq = ?,
         last_seq = ?, last_result_token = ?, last_result_seq = ?, last_result_agent = ?
       WHERE graph_id = ? AND id = ?`,
    );
    this.byGraph = db.prepare('SELECT * FROM tasks WHERE graph_id = ? ORDER BY position');
    this.byId = db.prepare('SELECT * FROM tasks WHERE graph_id = ? AND id = ?');
  }

  /** Writes the whole row: when a task is planned. */
  write(graphId: string, position: number, task: TaskState): void {
    let deps = this.dependsOnJson.get(task.dependsOn);
    if (deps === undefined) {
      deps = JSON.stringify(task.dependsOn);
      this.dependsOnJson.set(task.dependsOn, deps);
    }
    this.upsert.run(
      graphId,
      task.id,
      position,
      task.kind,
      task.title,
      task.instructions,
      deps,
      task.capability,
      ...stateValues(task),
    );
  }

  /** Writes only what changes after planning (status, claim, sequences): the common, hot case. */
  update(graphId: string, task: TaskState): void {
    this.updateState.run(...stateValues(task), graphId, task.id);
  }

  rowsOf(graphId: string): TaskRow[] {
    return this.byGraph.all(graphId);
  }

  row(graphId: string, taskId: string): TaskRow | undefined {
    return this.byId.get(graphId, taskId);
  }
}

export function taskStateFromRow(row: TaskRow): TaskState {
  return {
    id: row.id,
    kind: row.kind as TaskKind,
    title: row.title,
    instructions: row.instructions,
    dependsOn: JSON.parse(row.depends_on) as string[],
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
function stateValues(task: TaskState) {
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
