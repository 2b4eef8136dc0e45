import type Database from 'better-sqlite3';
import type { EventOf } from '../events/index.ts';
import type { Step } from '../protocol/index.ts';
import type { Migration } from './migration.ts';

/** ReAct steps streamed while a task runs (TaskProgressed, on the task's progress subject). */
export const progressMigrations: Migration[] = [
  {
    id: 'progress-1',
    up: `CREATE TABLE progress (
      seq INTEGER PRIMARY KEY,
      graph_id TEXT NOT NULL,
      task_id TEXT NOT NULL,
      claim_token TEXT NOT NULL,
      idx INTEGER NOT NULL,
      step TEXT NOT NULL,
      at TEXT NOT NULL
    );
    CREATE INDEX progress_by_task ON progress (graph_id, task_id, seq);`,
  },
];

export interface ProgressView {
  seq: number;
  claimToken: string;
  index: number;
  step: Step;
  at: string;
}

export class ProgressProjection {
  private readonly insert: Database.Statement<[number, string, string, string, number, string, string]>;
  private readonly countByClaim: Database.Statement<[string, string, string], { n: number }>;
  private readonly byTask: Database.Statement<
    [string, string],
    { seq: number; claim_token: string; idx: number; step: string; at: string }
  >;

  constructor(db: Database.Database) {
    this.insert = db.prepare(
      'INSERT INTO progress (seq, graph_id, task_id, claim_token, idx, step, at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.countByClaim = db.prepare(
      'SELECT COUNT(*) AS n FROM progress WHERE graph_id = ? AND task_id = ? AND claim_token = ?',
    );
    this.byTask = db.prepare(
      'SELECT seq, claim_token, idx, step, at FROM progress WHERE graph_id = ? AND task_id = ? ORDER BY seq',
    );
  }

  apply(seq: number, event: EventOf<'TaskProgressed'>, graphId: string, taskId: string): void {
    this.insert.run(
      seq,
      graphId,
      taskId,
      event.data.claimToken,
      event.data.index,
      JSON.stringify(event.data.step),
      event.at,
    );
  }

  /** Steps recorded for one claim: where its next step's index starts. */
  countFor(graphId: string, taskId: string, claimToken: string): number {
    return this.countByClaim.get(graphId, taskId, claimToken)?.n ?? 0;
  }

  stepsOf(graphId: string, taskId: string): ProgressView[] {
    return this.byTask.all(graphId, taskId).map((row) => ({
      seq: row.seq,
      claimToken: row.claim_token,
      index: row.idx,
      step: JSON.parse(row.step) as Step,
      at: row.at,
    }));
  }
}
