import type Database from 'better-sqlite3';
import type { AuditState } from '../events/index.ts';
import type { AuditReport, AuditView } from '../protocol/index.ts';
import type { Migration } from './migration.ts';

/** One row per audited cycle (AuditPassed / AuditFailed), with the whole report and rework set. */
export const auditsMigrations: Migration[] = [
  {
    id: 'audits-1',
    up: `CREATE TABLE audits (
      graph_id TEXT NOT NULL,
      cycle INTEGER NOT NULL,
      seq INTEGER NOT NULL,
      passed INTEGER NOT NULL,
      report TEXT NOT NULL,
      rework TEXT NOT NULL,
      at TEXT NOT NULL,
      PRIMARY KEY (graph_id, cycle)
    ) WITHOUT ROWID;`,
  },
];

interface AuditRow {
  graph_id: string;
  cycle: number;
  seq: number;
  passed: number;
  report: string;
  rework: string;
  at: string;
}

export class AuditsProjection {
  private readonly insert: Database.Statement<AuditRow>;
  private readonly byGraph: Database.Statement<[string], AuditRow>;

  constructor(db: Database.Database) {
    this.insert = db.prepare(
      'INSERT INTO audits (graph_id, cycle, seq, passed, report, rework, at) VALUES (@graph_id, @cycle, @seq, @passed, @report, @rework, @at)',
    );
    this.byGraph = db.prepare('SELECT * FROM audits WHERE graph_id = ? ORDER BY cycle');
  }

  apply(graphId: string, audit: AuditState): void {
    this.insert.run({
      graph_id: graphId,
      cycle: audit.cycle,
      seq: audit.seq,
      passed: audit.passed ? 1 : 0,
      report: JSON.stringify(audit.report),
      rework: JSON.stringify(audit.rework),
      at: audit.at,
    });
  }

  auditsOf(graphId: string): AuditView[] {
    return this.byGraph.all(graphId).map((row) => ({
      cycle: row.cycle,
      seq: row.seq,
      passed: row.passed === 1,
      report: JSON.parse(row.report) as AuditReport,
      rework: JSON.parse(row.rework) as string[],
      at: row.at,
    }));
  }
}
