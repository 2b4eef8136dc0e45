import type Database from 'better-sqlite3';
import type { Migration } from './migration.ts';

export const checkpointMigrations: Migration[] = [
  {
    id: 'checkpoints-1',
    up: `CREATE TABLE checkpoints (
      projector TEXT PRIMARY KEY,
      last_seq INTEGER NOT NULL
    )`,
  },
];

/** The last stream sequence a projector applied; written in the same transaction as the rows it covers. */
export class Checkpoint {
  private readonly readStmt: Database.Statement<[string], { last_seq: number }>;
  private readonly writeStmt: Database.Statement<[string, number]>;

  constructor(
    db: Database.Database,
    readonly projector: string,
  ) {
    this.readStmt = db.prepare('SELECT last_seq FROM checkpoints WHERE projector = ?');
    this.writeStmt = db.prepare(
      'INSERT INTO checkpoints (projector, last_seq) VALUES (?, ?) ON CONFLICT (projector) DO UPDATE SET last_seq = excluded.last_seq',
    );
  }

  read(): number {
    return this.readStmt.get(this.projector)?.last_seq ?? 0;
  }

  write(seq: number): void {
    this.writeStmt.run(this.projector, seq);
  }
}
