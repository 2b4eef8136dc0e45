import type Database from 'better-sqlite3';
import type { EventOf, GraphState } from '../events/index.ts';
import type { Step, TaskError, TaskResultView, Usage } from '../protocol/index.ts';
import type { Migration } from './migration.ts';

/** Every accepted result (completion or failed attempt), kept per task, cycle and attempt. */
export const resultsMigrations: Migration[] = [
  {
    id: 'results-1',
    up: `CREATE TABLE results (
      seq INTEGER PRIMARY KEY,
      graph_id TEXT NOT NULL,
      task_id TEXT NOT NULL,
      cycle INTEGER NOT NULL,
      attempt INTEGER NOT NULL,
      status TEXT NOT NULL,
      agent_id TEXT NOT NULL,
      output TEXT,
      history TEXT NOT NULL,
      usage TEXT,
      model TEXT,
      error TEXT,
      at TEXT NOT NULL
    );
    CREATE INDEX results_by_task ON results (graph_id, task_id, seq);`,
  },
];

interface ResultRow {
  seq: number;
  graph_id: string;
  task_id: string;
  cycle: number;
  attempt: number;
  status: string;
  agent_id: string;
  output: string | null;
  history: string;
  usage: string | null;
  model: string | null;
  error: string | null;
  at: string;
}

export type ResultEvent = EventOf<'TaskCompleted'> | EventOf<'TaskAttemptFailed'> | EventOf<'TaskFailed'>;

/** Who held the claim the result answers, captured before the event is applied. */
export interface ResultClaim {
  graphId: string;
  taskId: string;
  cycle: number;
  attempt: number;
  agentId: string;
}

/** Who held the claim a result event is about, captured before the fold clears it (null when no one did). */
export function claimBefore(state: GraphState | null, graphId: string, taskId: string): ResultClaim | null {
  const task = state?.tasks.get(taskId);
  if (!task?.claim) return null;
  return { graphId, taskId, cycle: task.cycle, attempt: task.claim.attempt, agentId: task.claim.agentId };
}

export class ResultsProjection {
  // A plain INSERT on the stream sequence: applying an event twice would fail loudly, never silently double.
  private readonly insert: Database.Statement<unknown[]>;
  private readonly latestByGraph: Database.Statement<[string], ResultRow>;
  private readonly latestCompleted: Database.Statement<[string, string], ResultRow>;

  constructor(db: Database.Database) {
    this.insert = db.prepare(
      `INSERT INTO results (seq, graph_id, task_id, cycle, attempt, status, agent_id, output, history, usage, model, error, at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.latestByGraph = db.prepare(
      `SELECT r.* FROM results r
       JOIN (SELECT task_id, MAX(seq) AS seq FROM results WHERE graph_id = ? GROUP BY task_id) latest
       ON r.seq = latest.seq`,
    );
    this.latestCompleted = db.prepare(
      `SELECT * FROM results WHERE graph_id = ? AND task_id = ? AND status = 'completed' ORDER BY seq DESC LIMIT 1`,
    );
  }

  apply(seq: number, event: ResultEvent, claim: ResultClaim): void {
    // Positional binding: this runs once per result during a replay, and named binding costs more.
    const { graphId, taskId, cycle, attempt, agentId } = claim;
    switch (event.type) {
      case 'TaskCompleted': {
        const { result } = event.data;
        this.insert.run(
          seq,
          graphId,
          taskId,
          cycle,
          attempt,
          'completed',
          agentId,
          result.output,
          JSON.stringify(result.history),
          result.usage ? JSON.stringify(result.usage) : null,
          result.model ?? null,
          null,
          event.at,
        );
        return;
      }
      case 'TaskAttemptFailed':
      case 'TaskFailed':
        this.insert.run(
          seq,
          graphId,
          taskId,
          cycle,
          attempt,
          'failed',
          agentId,
          null,
          JSON.stringify(event.data.history),
          null,
          null,
          JSON.stringify(event.data.error),
          event.at,
        );
        return;
      default: {
        const unreachable: never = event;
        throw new Error(`not a result event: ${(unreachable as { type: string }).type}`);
      }
    }
  }

  /** The latest result of each task of a graph. */
  latestOf(graphId: string): Map<string, TaskResultView> {
    const map = new Map<string, TaskResultView>();
    for (const row of this.latestByGraph.all(graphId)) map.set(row.task_id, resultView(row));
    return map;
  }

  /** The latest completed result of one task (a dependency's output, or the previous output on rework). */
  latestCompletedOf(graphId: string, taskId: string): TaskResultView | null {
    const row = this.latestCompleted.get(graphId, taskId);
    return row ? resultView(row) : null;
  }
}

function resultView(row: ResultRow): TaskResultView {
  return {
    seq: row.seq,
    cycle: row.cycle,
    attempt: row.attempt,
    status: row.status as 'completed' | 'failed',
    agentId: row.agent_id,
    output: row.output,
    history: JSON.parse(row.history) as Step[],
    usage: row.usage ? (JSON.parse(row.usage) as Usage) : null,
    model: row.model,
    error: row.error ? (JSON.parse(row.error) as TaskError) : null,
    at: row.at,
  };
}
