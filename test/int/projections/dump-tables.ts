import type Database from 'better-sqlite3';
import { PROJECTION_TABLES } from '../../../src/projections/index.ts';

/** Every projection table's rows in a stable order, for row-by-row comparison. */
export function dumpTables(db: Database.Database): Record<string, unknown[]> {
  const dump: Record<string, unknown[]> = {};
  for (const table of PROJECTION_TABLES) {
    const columns = (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map(
      (c) => c.name,
    );
    dump[table] = db.prepare(`SELECT * FROM ${table} ORDER BY ${columns.join(', ')}`).all();
  }
  return dump;
}
