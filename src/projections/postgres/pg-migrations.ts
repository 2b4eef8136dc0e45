import type { PgQueryable } from './pg-connection.ts';

/** One versioned schema change of the Postgres read model. Ids are `pg-<n>`; applied ids are never rerun. */
export interface PgMigration {
  id: string;
  up: string;
}

/**
 * The Postgres read model's schema. Column names are the SQLite read model's where the concept is the
 * same, so the two can be compared; the types are Postgres's own: ISO text → timestamptz, JSON text →
 * jsonb, 0/1 → boolean, epoch milliseconds stay bigint milliseconds (tasks.claimed_at, lease_until,
 * available_at), sequences are bigint.
 */
export const PG_MIGRATIONS: readonly PgMigration[] = [
  {
    id: 'pg-1',
    up: `
    CREATE TABLE am_checkpoint (
      projector text PRIMARY KEY,
      stream text NOT NULL,
      last_seq bigint NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE graphs (
      id text PRIMARY KEY,
      status text NOT NULL,
      goal text NOT NULL,
      options jsonb NOT NULL,
      priority integer NOT NULL,
      submitted_by text NOT NULL,
      idempotency_key text,
      explicit boolean NOT NULL,
      cycle integer NOT NULL,
      completed_cycle integer NOT NULL,
      planning jsonb,
      audit_marker jsonb,
      failure_reason text,
      failure_message text,
      output text,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      submitted_seq bigint NOT NULL,
      last_seq bigint NOT NULL
    );
    CREATE INDEX graphs_by_status ON graphs (status, created_at);
    CREATE INDEX graphs_by_created ON graphs (created_at, id);
    CREATE TABLE tasks (
      graph_id text NOT NULL,
      id text NOT NULL,
      position integer NOT NULL,
      kind text NOT NULL,
      title text NOT NULL,
      instructions text NOT NULL,
      depends_on jsonb NOT NULL,
      capability text,
      status text NOT NULL,
      attempts integer NOT NULL,
      cycle integer NOT NULL,
      completed_cycle integer,
      claim_token text,
      assignee text,
      claim_request_id text,
      claim_attempt integer,
      claimed_at bigint,
      lease_until bigint,
      available_at bigint NOT NULL,
      ready_seq bigint NOT NULL,
      last_seq bigint NOT NULL,
      last_result_token text,
      last_result_seq bigint,
      last_result_agent text,
      PRIMARY KEY (graph_id, id)
    );
    CREATE INDEX tasks_by_status ON tasks (status);
    CREATE TABLE results (
      seq bigint PRIMARY KEY,
      graph_id text NOT NULL,
      task_id text NOT NULL,
      cycle integer NOT NULL,
      attempt integer NOT NULL,
      status text NOT NULL,
      agent_id text NOT NULL,
      output text,
      history jsonb NOT NULL,
      usage jsonb,
      model text,
      error jsonb,
      at timestamptz NOT NULL,
      claimed_at timestamptz
    );
    CREATE INDEX results_by_task ON results (graph_id, task_id, seq);
    CREATE INDEX results_by_at ON results (at);
    CREATE TABLE audits (
      graph_id text NOT NULL,
      cycle integer NOT NULL,
      seq bigint NOT NULL,
      passed boolean NOT NULL,
      report jsonb NOT NULL,
      rework jsonb NOT NULL,
      at timestamptz NOT NULL,
      PRIMARY KEY (graph_id, cycle)
    );
    CREATE TABLE agents (
      id text PRIMARY KEY,
      role text NOT NULL,
      status text NOT NULL,
      created_at timestamptz NOT NULL,
      revoked_at timestamptz,
      revoked_seq bigint,
      last_seq bigint NOT NULL
    );
    CREATE TABLE skipped (
      seq bigint PRIMARY KEY,
      subject text NOT NULL,
      type text,
      reason text NOT NULL
    );
    CREATE TABLE events (
      seq bigint PRIMARY KEY,
      subject text NOT NULL,
      type text,
      graph_id text,
      task_id text,
      at timestamptz,
      actor text,
      data jsonb
    );
    CREATE INDEX events_by_graph ON events (graph_id, seq);
    CREATE INDEX events_by_type ON events (type, at);`,
  },
];

/** Serialises migrations of concurrent starts on one database (an arbitrary, fixed advisory lock key). */
const MIGRATION_LOCK = 0x414d5047; // "AMPG"

/**
 * Applies, in order, the migrations not yet recorded in `am_schema_migrations`, each in its own
 * transaction with its record (Postgres DDL is transactional), under an advisory lock so that two
 * processes starting on one database do not both run one. Returns the ids it applied.
 */
export async function migratePostgres(
  db: PgQueryable,
  migrations: readonly PgMigration[] = PG_MIGRATIONS,
): Promise<string[]> {
  await inTransaction(db, async () => {
    await db.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await db.query(`CREATE TABLE IF NOT EXISTS am_schema_migrations (
      id text PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
  });
  const ran: string[] = [];
  for (const migration of migrations) {
    await inTransaction(db, async () => {
      await db.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      const done = await db.query('SELECT 1 FROM am_schema_migrations WHERE id = $1', [migration.id]);
      if (done.rowCount === 0) {
        await db.query(migration.up);
        await db.query('INSERT INTO am_schema_migrations (id) VALUES ($1)', [migration.id]);
        ran.push(migration.id);
      }
    });
  }
  return ran;
}

async function inTransaction(db: PgQueryable, work: () => Promise<void>): Promise<void> {
  await db.query('BEGIN');
  try {
    await work();
    await db.query('COMMIT');
  } catch (error) {
    await db.query('ROLLBACK').catch(() => {});
    throw error;
  }
}
