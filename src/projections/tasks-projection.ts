import type Database from 'better-sqlite3';
import type { TaskState } from '../events/index.ts';
import type { StatusCountRow } from './graphs-projection.ts';
import type { Migration } from './migration.ts';
import { stateValues, TASK_COLUMNS, type TaskRow } from './task-rows.ts';

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

export interface ClaimedRow {
  graph_id: string;
  id: string;
  assignee: string | null;
  claim_request_id: string | null;
  claim_token: string;
}

export interface ReadyRow {
  graph_id: string;
  id: string;
  ready_seq: number;
  available_at: number;
  capability: string | null;
  priority: number;
}

export interface ExpiredClaimRow {
  graph_id: string;
  id: string;
  claim_token: string;
  lease_until: number;
  lease_ms: number;
}

export interface TimedClaimRow {
  graph_id: string;
  id: string;
  claim_token: string;
  due: number;
}

export class TasksProjection {
  /** dependsOn arrays never change after planning: serialise each once. */
  private readonly dependsOnJson = new WeakMap<readonly string[], string>();
  private readonly upsert: Database.Statement<unknown[]>;
  private readonly updateState: Database.Statement<unknown[]>;
  private readonly byGraph: Database.Statement<[string], TaskRow>;
  private readonly byId: Database.Statement<[string, string], TaskRow>;

  private readonly claimed: Database.Statement<[], ClaimedRow>;
  private readonly dispatchableReady: Database.Statement<[], ReadyRow>;
  private readonly expired: Database.Statement<[number], ExpiredClaimRow>;
  private readonly nextLease: Database.Statement<[number], { next: number | null }>;
  private readonly timed: Database.Statement<[], TimedClaimRow>;
  private readonly longestLease: Database.Statement<[], { longest: number | null }>;
  private readonly ofRevokedAgents: Database.Statement<[], { graph_id: string }>;
  private readonly unfinishedByStatus: Database.Statement<[], StatusCountRow>;

  constructor(db: Database.Database) {
    this.upsert = db.prepare(
      `INSERT OR REPLACE INTO tasks (${TASK_COLUMNS.join(', ')}) VALUES (${TASK_COLUMNS.map(() => '?').join(', ')})`,
    );
    this.updateState = db.prepare(
      `UPDATE tasks SET status = ?, attempts = ?, cycle = ?, completed_cycle = ?, claim_token = ?, assignee = ?,
         claim_request_id = ?, claim_attempt = ?, claimed_at = ?, lease_until = ?, available_at = ?, ready_seq = ?,
         last_seq = ?, last_result_token = ?, last_result_seq = ?, last_result_agent = ?
       WHERE graph_id = ? AND id = ?`,
    );
    this.byGraph = db.prepare('SELECT * FROM tasks WHERE graph_id = ? ORDER BY position');
    this.byId = db.prepare('SELECT * FROM tasks WHERE graph_id = ? AND id = ?');
    this.claimed = db.prepare(
      `SELECT graph_id, id, assignee, claim_request_id, claim_token FROM tasks
       WHERE status = 'CLAIMED' AND claim_token IS NOT NULL`,
    );
    this.dispatchableReady = db.prepare(
      `SELECT t.graph_id, t.id, t.ready_seq, t.available_at, t.capability, g.priority
       FROM tasks t JOIN graphs g ON g.id = t.graph_id
       WHERE t.status = 'READY' AND g.status IN ('RUNNING', 'SYNTHESIZING')
       ORDER BY t.ready_seq`,
    );
    // Both lease queries range over the partial index tasks_claimed_by_lease (status = 'CLAIMED').
    this.expired = db.prepare(
      `SELECT t.graph_id, t.id, t.claim_token, t.lease_until, json_extract(g.options, '$.leaseMs') AS lease_ms
       FROM tasks t JOIN graphs g ON g.id = t.graph_id
       WHERE t.status = 'CLAIMED' AND t.lease_until <= ?`,
    );
    this.nextLease = db.prepare(
      `SELECT MIN(lease_until) AS next FROM tasks WHERE status = 'CLAIMED' AND lease_until > ?`,
    );
    // Only graphs that set timeoutMs, found through the status index; claims are few per graph.
    this.timed = db.prepare(
      `SELECT t.graph_id, t.id, t.claim_token, t.claimed_at + json_extract(g.options, '$.timeoutMs') AS due
       FROM graphs g JOIN tasks t ON t.graph_id = g.id
       WHERE g.status IN ('RUNNING', 'SYNTHESIZING') AND json_extract(g.options, '$.timeoutMs') IS NOT NULL
         AND t.status = 'CLAIMED'`,
    );
    this.longestLease = db.prepare(
      `SELECT MAX(json_extract(g.options, '$.leaseMs')) AS longest
       FROM tasks t JOIN graphs g ON g.id = t.graph_id WHERE t.status = 'CLAIMED'`,
    );
    this.ofRevokedAgents = db.prepare(
      `SELECT DISTINCT t.graph_id FROM tasks t JOIN agents a ON a.id = t.assignee
       WHERE t.status = 'CLAIMED' AND a.status = 'revoked'`,
    );
    // Through the graphs' status index, then each graph's tasks by primary key: the cost follows the work in
    // flight, not the history (all tasks, with no status index to use, take ~0.3 s per million rows).
    this.unfinishedByStatus = db.prepare(
      `SELECT t.status, COUNT(*) AS count FROM graphs g JOIN tasks t ON t.graph_id = g.id
       WHERE g.status IN ('SUBMITTED', 'PLANNING', 'RUNNING', 'AUDITING', 'SYNTHESIZING')
       GROUP BY t.status`,
    );
  }

  /** How many tasks of unfinished graphs have each status (statuses with none are absent). */
  countUnfinishedByStatus(): StatusCountRow[] {
    return this.unfinishedByStatus.all();
  }

  /** Graphs with a task still claimed by an agent that has since been revoked. */
  graphsWithRevokedClaims(): string[] {
    return this.ofRevokedAgents.all().map((row) => row.graph_id);
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

  /** Current claims, for the in-memory claim index a projector starts with. */
  claimedRows(): ClaimedRow[] {
    return this.claimed.all();
  }

  /** READY tasks of graphs that dispatch, in READY order, for the READY index a projector starts with. */
  dispatchableReadyRows(): ReadyRow[] {
    return this.dispatchableReady.all();
  }

  /** Claims whose lease ended at or before `now`, with their graph's lease. */
  expiredClaims(now: number): ExpiredClaimRow[] {
    return this.expired.all(now);
  }

  /** The earliest lease end after `now`, or null when no claim ends later. */
  nextLeaseEnd(now: number): number | null {
    return this.nextLease.get(now)?.next ?? null;
  }

  /** Claims of dispatching graphs that set `timeoutMs`, with when their attempt is due. */
  timedClaims(): TimedClaimRow[] {
    return this.timed.all();
  }

  /** The longest `leaseMs` among the graphs of current claims (0 when there are none). */
  longestHeldLeaseMs(): number {
    return this.longestLease.get()?.longest ?? 0;
  }
}
