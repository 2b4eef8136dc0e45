import { chmodSync, closeSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import { agentsMigrations } from './agents-projection.ts';
import { auditsMigrations } from './audits-projection.ts';
import { checkpointMigrations } from './checkpoint.ts';
import { deferredIndexesMigrations, restoreDeferredIndexes } from './deferred-indexes.ts';
import { graphsMigrations } from './graphs-projection.ts';
import { type Migration, migrate } from './migration.ts';
import { progressMigrations } from './progress-projection.ts';
import { resultsMigrations } from './results-projection.ts';
import { skippedMigrations } from './skipped.ts';
import { tasksMigrations } from './tasks-projection.ts';

export type ReadModelDb = Database.Database;

/** Every projection's migrations, in the order they must run. */
export const ALL_MIGRATIONS: readonly Migration[] = [
  ...checkpointMigrations,
  ...skippedMigrations,
  ...graphsMigrations,
  ...tasksMigrations,
  ...resultsMigrations,
  ...progressMigrations,
  ...auditsMigrations,
  ...agentsMigrations,
  ...deferredIndexesMigrations,
];

/** The tables a rebuild empties (everything but the migration log). */
export const PROJECTION_TABLES = [
  'checkpoints',
  'skipped',
  'graphs',
  'tasks',
  'results',
  'progress',
  'audits',
  'agents',
] as const;

/**
 * SQLite page cache sizes (negative: KiB). A full replay touches task and result pages all over the
 * file, and SQLite's default 2 MiB cache thrashes; at the tail the pages in use are those of the open
 * graphs, and a 64 MiB cache held for good was a quarter of a busy server's RSS.
 */
export const PAGE_CACHE_KIB = { steady: -16_384, bulkLoad: -65_536 } as const;

/**
 * Opens (creating if needed) a read-model file in WAL mode and migrates it. `synchronous = NORMAL`
 * is safe with WAL: a crash can lose the last transactions but never corrupts, and the projector
 * replays whatever its checkpoint does not cover.
 */
export function openReadModel(path: string): ReadModelDb {
  if (path !== ':memory:') {
    // The rows hold goals, instructions and outputs: this user's alone. SQLite gives the -wal and -shm
    // files the mode of the database file.
    closeSync(openSync(path, 'a', 0o600));
    chmodSync(path, 0o600);
  }
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.pragma(`cache_size = ${PAGE_CACHE_KIB.steady}`);
  db.pragma('temp_store = MEMORY');
  db.pragma('foreign_keys = OFF');
  // Before migrating: a later migration may expect an index an interrupted rebuild had dropped.
  restoreDeferredIndexes(db);
  migrate(db, ALL_MIGRATIONS);
  return db;
}
