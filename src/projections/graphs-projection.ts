import type Database from 'better-sqlite3';
import type { GraphState } from '../events/index.ts';
import type { GraphFailureReason, GraphOptions, GraphStatus, GraphView } from '../protocol/index.ts';
import type { Migration } from './migration.ts';

/** One row per graph, written from the graph aggregate's state after each batch that touched it. */
export const graphsMigrations: Migration[] = [
  {
    id: 'graphs-1',
    up: `CREATE TABLE graphs (
      id TEXT PRIMARY KEY,
      status TEXT NOT NULL,
      goal TEXT NOT NULL,
      options TEXT NOT NULL,
      priority INTEGER NOT NULL,
      submitted_by TEXT NOT NULL,
      idempotency_key TEXT,
      explicit INTEGER NOT NULL,
      cycle INTEGER NOT NULL,
      completed_cycle INTEGER NOT NULL,
      planning TEXT,
      audit_marker TEXT,
      failure_reason TEXT,
      failure_message TEXT,
      output TEXT,
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      submitted_seq INTEGER NOT NULL,
      last_seq INTEGER NOT NULL
    );
    CREATE INDEX graphs_by_status ON graphs (status, created_at);
    CREATE INDEX graphs_by_created ON graphs (created_at, id);`,
  },
];

export interface GraphRow {
  id: string;
  status: string;
  goal: string;
  options: string;
  priority: number;
  submitted_by: string;
  idempotency_key: string | null;
  explicit: number;
  cycle: number;
  completed_cycle: number;
  planning: string | null;
  audit_marker: string | null;
  failure_reason: string | null;
  failure_message: string | null;
  output: string | null;
  created_at: string;
  updated_at: string;
  submitted_seq: number;
  last_seq: number;
}

const COLUMNS = [
  'id',
  'status',
  'goal',
  'options',
  'priority',
  'submitted_by',
  'idempotency_key',
  'explicit',
  'cycle',
  'completed_cycle',
  'planning',
  'audit_marker',
  'failure_reason',
  'failure_message',
  'output',
  'created_at',
  'updated_at',
  'submitted_seq',
  'last_seq',
] as const;

type IdRow = { id: string };

/** How many rows have one status (the /metrics gauges). */
export interface StatusCountRow {
  status: string;
  count: number;
}

export class GraphsProjection {
  private readonly upsert: Database.Statement<GraphRow>;
  private readonly byId: Database.Statement<[string], GraphRow>;
  private readonly auditing: Database.Statement<[], IdRow>;
  private readonly unplanned: Database.Statement<[], IdRow>;
  private readonly completable: Database.Statement<[], IdRow>;
  private readonly withFailedTask: Database.Statement<[], IdRow>;
  private readonly synthesized: Database.Statement<[string], IdRow>;
  private readonly byStatus: Database.Statement<[], StatusCountRow>;

  constructor(private readonly db: Database.Database) {
    this.upsert = db.prepare(
      `INSERT OR REPLACE INTO graphs (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c) => `@${c}`).join(', ')})`,
    );
    this.byId = db.prepare('SELECT * FROM graphs WHERE id = ?');
    this.auditing = db.prepare(`SELECT id FROM graphs WHERE status = 'AUDITING'`);
    this.unplanned = db.prepare(
      `SELECT id FROM graphs WHERE status IN ('SUBMITTED', 'PLANNING') AND explicit = 0`,
    );
    this.completable = db.prepare(
      `SELECT g.id FROM graphs g
       WHERE g.status = 'RUNNING' AND g.completed_cycle < g.cycle
         AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.graph_id = g.id AND t.kind = 'work' AND t.status <> 'COMPLETED')`,
    );
    this.withFailedTask = db.prepare(
      `SELECT DISTINCT g.id FROM graphs g JOIN tasks t ON t.graph_id = g.id
       WHERE g.status IN ('RUNNING', 'SYNTHESIZING') AND t.status = 'FAILED'`,
    );
    this.synthesized = db.prepare(
      `SELECT g.id FROM graphs g JOIN tasks t ON t.graph_id = g.id AND t.id = ?
       WHERE g.status = 'SYNTHESIZING' AND t.status = 'COMPLETED'`,
    );
    // A scan of the covering index graphs_by_status: about 5 ms per 100k graphs.
    this.byStatus = db.prepare('SELECT status, COUNT(*) AS count FROM graphs GROUP BY status');
  }

  /** How many graphs have each status (statuses with none are absent). */
  countByStatus(): StatusCountRow[] {
    return this.byStatus.all();
  }

  /** Graphs being audited (the auditor's level sweep). */
  auditingIds(): string[] {
    return this.auditing.all().map((row) => row.id);
  }

  /** Goal-only graphs not planned yet (the planner's level sweep). */
  unplannedIds(): string[] {
    return this.unplanned.all().map((row) => row.id);
  }

  /** RUNNING graphs whose current cycle has every work task COMPLETED and no GraphCompleted yet. */
  completableIds(): string[] {
    return this.completable.all().map((row) => row.id);
  }

  /** Dispatching graphs with a FAILED task (the graph fails with task_failed). */
  withFailedTaskIds(): string[] {
    return this.withFailedTask.all().map((row) => row.id);
  }

  /** SYNTHESIZING graphs whose synthesis task `synthesisTaskId` is COMPLETED. */
  synthesizedIds(synthesisTaskId: string): string[] {
    return this.synthesized.all(synthesisTaskId).map((row) => row.id);
  }

  write(state: GraphState): void {
    this.upsert.run(toRow(state));
  }

  row(graphId: string): GraphRow | undefined {
    return this.byId.get(graphId);
  }

  /** Graphs newest first, optionally by status, paged by an opaque cursor (`<created_at>|<id>`). */
  list(opts: { status?: GraphStatus; cursor?: string; limit: number }): {
    graphs: GraphView[];
    nextCursor: string | null;
  } {
    const where: string[] = [];
    const params: unknown[] = [];
    if (opts.status) {
      where.push('status = ?');
      params.push(opts.status);
    }
    if (opts.cursor) {
      const [createdAt, id] = opts.cursor.split('|');
      where.push('(created_at < ? OR (created_at = ? AND id < ?))');
      params.push(createdAt, createdAt, id);
    }
    const sql = `SELECT * FROM graphs ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY created_at DESC, id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...params, opts.limit + 1) as GraphRow[];
    const page = rows.slice(0, opts.limit);
    const last = page[page.length - 1];
    return {
      graphs: page.map(graphView),
      nextCursor: rows.length > opts.limit && last ? `${last.created_at}|${last.id}` : null,
    };
  }
}

function toRow(state: GraphState): GraphRow {
  return {
    id: state.id,
    status: state.status,
    goal: state.goal,
    options: JSON.stringify(state.options),
    priority: state.options.priority,
    submitted_by: state.submittedBy,
    idempotency_key: state.idempotencyKey,
    explicit: state.explicit ? 1 : 0,
    cycle: state.cycle,
    completed_cycle: state.completedCycle,
    planning: state.planning ? JSON.stringify(state.planning) : null,
    audit_marker: state.audit ? JSON.stringify(state.audit) : null,
    failure_reason: state.failure?.reason ?? null,
    failure_message: state.failure?.message ?? null,
    output: state.output,
    created_at: state.createdAt,
    updated_at: state.updatedAt,
    submitted_seq: state.submittedSeq,
    last_seq: state.lastSeq,
  };
}

/** The graph-level fields of a GraphState, read back from its row (tasks and audits are added by the loader). */
export function graphStateFromRow(row: GraphRow): GraphState {
  return {
    id: row.id,
    status: row.status as GraphStatus,
    goal: row.goal,
    options: JSON.parse(row.options) as GraphOptions,
    submittedBy: row.submitted_by,
    idempotencyKey: row.idempotency_key,
    explicit: row.explicit === 1,
    cycle: row.cycle,
    completedCycle: row.completed_cycle,
    planning: row.planning ? (JSON.parse(row.planning) as GraphState['planning']) : null,
    audit: row.audit_marker ? (JSON.parse(row.audit_marker) as GraphState['audit']) : null,
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

export function graphView(row: GraphRow): GraphView {
  return {
    id: row.id,
    status: row.status as GraphStatus,
    goal: row.goal,
    cycle: row.cycle,
    options: JSON.parse(row.options) as GraphOptions,
    submittedBy: row.submitted_by,
    failure:
      row.failure_reason === null
        ? null
        : { reason: row.failure_reason as GraphFailureReason, message: row.failure_message ?? '' },
    output: row.output,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    lastSeq: row.last_seq,
  };
}
