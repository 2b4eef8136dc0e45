import type Database from 'better-sqlite3';
import type { Migration } from './migration.ts';

/**
 * Events the projector could not apply (unreadable, or void by rule such as a second claim). They are
 * recorded, never thrown: one bad message must not stop the read model.
 */
export const skippedMigrations: Migration[] = [
  {
    id: 'skipped-1',
    up: `CREATE TABLE skipped (
      seq INTEGER PRIMARY KEY,
      subject TEXT NOT NULL,
      type TEXT,
      reason TEXT NOT NULL
    )`,
  },
];

export interface SkippedRow {
  seq: number;
  subject: string;
  type: string | null;
  reason: string;
}

export class SkippedProjection {
  private readonly insert: Database.Statement<[number, string, string | null, string]>;
  private readonly list: Database.Statement<[], SkippedRow>;

  constructor(db: Database.Database) {
    this.insert = db.prepare('INSERT INTO skipped (seq, subject, type, reason) VALUES (?, ?, ?, ?)');
    this.list = db.prepare('SELECT seq, subject, type, reason FROM skipped ORDER BY seq');
  }

  record(seq: number, subject: string, type: string | null, reason: string): void {
    this.insert.run(seq, subject, type, reason);
  }

  all(): SkippedRow[] {
    return this.list.all();
  }
}
