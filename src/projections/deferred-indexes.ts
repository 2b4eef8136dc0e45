import type Database from 'better-sqlite3';
import type { Migration } from './migration.ts';

/**
 * Secondary indexes a full replay drops and builds once at the end: building an index over finished
 * tables is far cheaper than keeping it current through every insert and status change. Their DDL is
 * kept in this table until they are back, so a process that dies mid-rebuild restores them on its
 * next open instead of serving queries without them.
 */
export const deferredIndexesMigrations: Migration[] = [
  {
    id: 'deferred-indexes-1',
    up: `CREATE TABLE deferred_indexes (
      name TEXT PRIMARY KEY,
      sql TEXT NOT NULL
    )`,
  },
];

/** Drops every secondary index of the projection tables, recording each one's DDL first. */
export function deferSecondaryIndexes(db: Database.Database): number {
  const indexes = db
    .prepare(
      `SELECT name, sql FROM sqlite_master
       WHERE type = 'index' AND sql IS NOT NULL AND tbl_name NOT IN ('deferred_indexes', 'schema_migrations')`,
    )
    .all() as Array<{ name: string; sql: string }>;
  const remember = db.prepare('INSERT OR REPLACE INTO deferred_indexes (name, sql) VALUES (?, ?)');
  db.transaction(() => {
    for (const index of indexes) {
      remember.run(index.name, index.sql);
      db.exec(`DROP INDEX "${index.name}"`);
    }
  })();
  return indexes.length;
}

/** Builds every index a rebuild deferred (also after a crash mid-rebuild); returns how many it built. */
export function restoreDeferredIndexes(db: Database.Database): number {
  const hasTable = db
    .prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'deferred_indexes'`)
    .get();
  if (!hasTable) return 0;
  const deferred = db.prepare('SELECT name, sql FROM deferred_indexes').all() as Array<{
    name: string;
    sql: string;
  }>;
  if (deferred.length === 0) return 0;
  const exists = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?`);
  db.transaction(() => {
    for (const index of deferred) if (!exists.get(index.name)) db.exec(index.sql);
    db.exec('DELETE FROM deferred_indexes');
  })();
  return deferred.length;
}
