import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { v4 as uuidv4 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rebuildReadModel } from '../../../src/projections/index.ts';
import {
  connectPostgres,
  migratePostgres,
  type PgRetry,
  PostgresProjector,
  type PostgresProjectorOptions,
  redactPostgresUrl,
} from '../../../src/projections/postgres/index.ts';
import { TrailBuilder } from '../../fixtures/trail-builder.ts';
import { makeTempDir, publishRaw, removeTempDir, useTestStore, waitUntil } from '../../kit/index.ts';
import {
  createTestDatabase,
  databaseUrl,
  eventsCoverage,
  postgresAddress,
  postgresUnreachable,
  SHARED_TABLES,
  type SharedTable,
  sharedRows,
  startTcpProxy,
  TEST_POSTGRES_URL,
  type TestDatabase,
} from './postgres-test-db.ts';
import { appendEntries, buildReworkWorkload } from './postgres-workload.ts';
import { buildSeedScenario } from './seed-scenario.ts';

const GOLDEN = join(import.meta.dirname, '../../fixtures/golden');

// Skipped only when no Postgres answers, and then it says so.
const unreachable = await postgresUnreachable();
if (unreachable !== null) {
  console.warn(
    `postgres-read-model.int.test.ts SKIPPED: no PostgreSQL reachable at ${redactPostgresUrl(TEST_POSTGRES_URL)} (${unreachable}); set AM_TEST_POSTGRES_URL to a server where this role may create databases`,
  );
}

describe.skipIf(unreachable !== null)(
  `the Postgres read model over a real nats-server and Postgres${unreachable === null ? '' : ' (skipped: no PostgreSQL reachable)'}`,
  () => {
    const t = useTestStore();
    const databases: TestDatabase[] = [];
    let dir: string;

    /** A SQLite read model rebuilt from the stream as it stands: what the Postgres one must equal. */
    const sqliteNow = async (name: string): Promise<string> => {
      const path = join(dir, `${name}.sqlite`);
      await rebuildReadModel(t.store, t.store.subjects, path);
      return path;
    };
    const newDatabase = async () => {
      const db = await createTestDatabase();
      databases.push(db);
      return db;
    };
    const start = (url: string, extra: Partial<PostgresProjectorOptions> = {}) =>
      PostgresProjector.start({
        source: t.store,
        subjects: t.store.subjects,
        streamName: t.nats.streamName,
        url,
        ...extra,
      });
    const expectEqualToSqlite = async (sqlitePath: string, db: TestDatabase) => {
      for (const table of Object.keys(SHARED_TABLES) as SharedTable[]) {
        const { sqlite, postgres, columns } = await sharedRows(sqlitePath, db, table);
        expect(columns.length, `${table}: shared columns`).toBeGreaterThan(3);
        expect(postgres, `${table} rows`).toEqual(sqlite);
      }
    };
    const expectEveryEventOnce = async (db: TestDatabase) => {
      const tail = await t.store.lastSeq();
      expect(await eventsCoverage(db)).toEqual({ rows: tail, distinct: tail, min: 1, max: tail });
    };

    beforeAll(async () => {
      dir = makeTempDir('am-postgres-int');
      // A stream recorded from a real run (planning, rework, synthesis, a failed and retried graph, an
      // expired lease, a release, a cancel, agents, a malformed message) ...
      const lines = readFileSync(join(GOLDEN, 'stream.jsonl'), 'utf8').trim().split('\n');
      for (const line of lines) {
        const { seq, subject, data } = JSON.parse(line) as { seq: number; subject: string; data: string };
        expect(await publishRaw(t.nc, `${t.nats.subjectPrefix}.${subject}`, data)).toBe(seq);
      }
      // ... then the seed scenario and graphs with rework, spread over five days.
      const seed = buildSeedScenario(t.store.subjects, await t.store.lastSeq());
      await appendEntries(t.store, seed.builder.entries);
      const workload = buildReworkWorkload(t.store.subjects, await t.store.lastSeq(), 600);
      await appendEntries(t.store, workload.entries);
    });

    afterAll(async () => {
      for (const db of databases) await db.drop().catch(() => {});
      if (dir) removeTempDir(dir);
    });

    it('folds the stream into rows equal to the SQLite read model, reading aggregates back from their rows', async () => {
      const db = await newDatabase();
      // One graph in memory and batches of 7: almost every batch folds on from aggregates read back from
      // Postgres, and graphs are cut across batches.
      const projector = await start(db.url, { cacheBudget: { graphs: 1, tasks: 1 }, maxBatch: 7 });
      try {
        const caught = await projector.caughtUp;
        expect(caught.seq).toBe(await t.store.lastSeq());
        expect(caught.events).toBe(caught.seq);
      } finally {
        await projector.stop();
      }
      await expectEqualToSqlite(await sqliteNow('first'), db);
      await expectEveryEventOnce(db);
      const [checkpoint] = await db.query<{ last_seq: string; stream: string }>(
        'SELECT * FROM am_checkpoint',
      );
      expect({ lastSeq: Number(checkpoint?.last_seq), stream: checkpoint?.stream }).toEqual({
        lastSeq: await t.store.lastSeq(),
        stream: t.nats.streamName,
      });
      // The golden stream's malformed message is an event row without a type, and a skipped row.
      const [malformed] = await db.query<{ n: string }>(
        `SELECT count(*) AS n FROM events e JOIN skipped s USING (seq) WHERE e.type IS NULL`,
      );
      expect(Number(malformed?.n)).toBeGreaterThan(0);
    });

    it('resumes from its checkpoint after a stop, follows live appends, and rides out a NATS restart', async () => {
      const db = await newDatabase();
      const first = await start(db.url);
      await first.caughtUp;
      const more = buildReworkWorkload(t.store.subjects, await t.store.lastSeq(), 100, {
        startMs: Date.parse('2026-02-01T00:00:00.000Z'),
      });
      await appendEntries(t.store, more.entries);
      await waitUntil(() => first.appliedSeq === more.lastSeq, {
        message: 'live appends applied',
        timeoutMs: 10_000,
      });
      await first.stop();

      const stoppedAt = more.lastSeq;
      const later = buildReworkWorkload(t.store.subjects, stoppedAt, 50);
      await appendEntries(t.store, later.entries);
      const second = await start(db.url);
      try {
        expect(second.fromSeq).toBe(stoppedAt + 1);
        expect((await second.caughtUp).seq).toBe(later.lastSeq);
        await t.nats.restart();
        const afterRestart = buildReworkWorkload(t.store.subjects, later.lastSeq, 50);
        await appendEntries(t.store, afterRestart.entries);
        await waitUntil(() => second.appliedSeq === afterRestart.lastSeq, {
          message: 'appends after the NATS restart applied',
          timeoutMs: 20_000,
        });
      } finally {
        await second.stop();
      }
      await expectEqualToSqlite(await sqliteNow('resumed'), db);
      await expectEveryEventOnce(db);
    });

    it('tries a batch again when Postgres goes away mid-replay: nothing skipped, nothing applied twice', async () => {
      const db = await newDatabase();
      const proxy = await startTcpProxy(postgresAddress());
      const retries: PgRetry[] = [];
      const recovered: number[] = [];
      const projector = await start(databaseUrl(db.name, { host: '127.0.0.1', port: proxy.port }), {
        maxBatch: 25,
        retryDelaysMs: [50, 100, 200],
        onRetry: (retry) => retries.push(retry),
        onRecovered: ({ fromSeq }) => recovered.push(fromSeq),
      });
      try {
        await waitUntil(() => projector.appliedSeq > 0, { message: 'a first batch' });
        const cutAt = projector.appliedSeq;
        await proxy.cut();
        await waitUntil(() => retries.length >= 3, { message: 'failed tries while Postgres is away' });
        expect(projector.appliedSeq).toBeLessThan(await t.store.lastSeq());
        await proxy.resume();
        const caught = await projector.caughtUp;
        expect(caught.seq).toBe(await t.store.lastSeq());
        expect(recovered.length).toBeGreaterThan(0);
        expect(proxy.connections).toBeGreaterThan(1);
        console.info(
          `Postgres cut at seq ${cutAt}: ${retries.length} failed tries (${retries.map((r) => r.delayMs).join(', ')} ms), first error: ${String((retries[0]?.error as Error | undefined)?.message)}`,
        );
      } finally {
        await projector.stop();
        await proxy.close();
      }
      await expectEqualToSqlite(await sqliteNow('cut'), db);
      await expectEveryEventOnce(db);
    });

    it('connects again when Postgres ends its idle connection (as a restart does) and applies what came meanwhile', async () => {
      const db = await newDatabase();
      const projector = await start(db.url);
      try {
        await projector.caughtUp;
        const ended = await db.query<{ ended: boolean }>(
          `SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity
         WHERE datname = $1 AND application_name = 'am-projections'`,
          [db.name],
        );
        expect(ended).toEqual([{ ended: true }]);
        const more = buildReworkWorkload(t.store.subjects, await t.store.lastSeq(), 20, {
          tasks: 2,
          steps: 1,
        });
        await appendEntries(t.store, more.entries);
        await waitUntil(() => projector.appliedSeq === more.lastSeq, {
          message: 'appends after the connection ended',
          timeoutMs: 10_000,
        });
      } finally {
        await projector.stop();
      }
      await expectEveryEventOnce(db);
    });

    it('stays exact with two projectors on one database: each batch skips what the other committed', async () => {
      const db = await newDatabase();
      const [one, two] = await Promise.all([
        start(db.url, { maxBatch: 13 }),
        start(db.url, { maxBatch: 29 }),
      ]);
      try {
        const tail = await t.store.lastSeq();
        expect((await one.caughtUp).seq).toBe(tail);
        expect((await two.caughtUp).seq).toBe(tail);
      } finally {
        await Promise.all([one.stop(), two.stop()]);
      }
      await expectEqualToSqlite(await sqliteNow('two'), db);
      await expectEveryEventOnce(db);
    });

    it('refuses a database of another stream, one ahead of the stream, and a checkpoint that went back under it', async () => {
      const db = await newDatabase();
      const projector = await start(db.url);
      await projector.caughtUp;
      await projector.stop();
      await expect(
        PostgresProjector.start({
          source: t.store,
          subjects: t.store.subjects,
          streamName: 'OTHER',
          url: db.url,
        }),
      ).rejects.toMatchObject({ code: 'AM_ERR_CONFIG_INVALID', message: expect.stringContaining('OTHER') });

      const tail = await t.store.lastSeq();
      await db.query('UPDATE am_checkpoint SET last_seq = $1', [tail + 100]);
      await expect(start(db.url)).rejects.toMatchObject({
        code: 'AM_ERR_CONFIG_INVALID',
        message: expect.stringContaining(`at seq ${tail + 100} but stream`),
      });

      // A restore from a backup while it runs: it stops for good (a restart resumes from the database).
      await db.query('UPDATE am_checkpoint SET last_seq = $1', [tail]);
      const running = await start(db.url);
      try {
        await running.caughtUp;
        await db.query('UPDATE am_checkpoint SET last_seq = $1', [tail - 10]);
        const next = buildReworkWorkload(t.store.subjects, tail, 1, { tasks: 1, steps: 0 });
        await appendEntries(t.store, next.entries);
        await expect(running.done).rejects.toMatchObject({
          code: 'AM_ERR_CONFIG_INVALID',
          message: expect.stringContaining(`went back from ${tail} to ${tail - 10}`),
        });
      } finally {
        await running.stop();
      }
      const resumed = await start(db.url);
      try {
        expect(resumed.fromSeq).toBe(tail - 9);
        expect((await resumed.caughtUp).seq).toBe(await t.store.lastSeq());
      } finally {
        await resumed.stop();
      }
    });

    it('runs each migration once, however often it is started', async () => {
      const db = await newDatabase();
      const connection = await connectPostgres(db.url);
      try {
        expect(await migratePostgres(connection.client)).toEqual(['pg-1']);
        expect(await migratePostgres(connection.client)).toEqual([]);
        await Promise.all([migratePostgres(connection.client), migratePostgres(connection.client)]);
      } finally {
        await connection.close();
      }
      const applied = await db.query<{ id: string }>('SELECT id FROM am_schema_migrations ORDER BY id');
      expect(applied.map((row) => row.id)).toEqual(['pg-1']);
      const tables = await db.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
      );
      expect(tables.map((row) => row.table_name)).toEqual([
        'agents',
        'am_checkpoint',
        'am_schema_migrations',
        'audits',
        'events',
        'graphs',
        'results',
        'skipped',
        'tasks',
      ]);
    });

    // Last: it appends text SQLite keeps and Postgres cannot, so the tables differ from here on.
    it('stores text Postgres refuses (NUL, a lone surrogate) with U+FFFD instead of failing the batch forever', async () => {
      const graphId = uuidv4();
      const b = new TrailBuilder(t.store.subjects, graphId, { baseSeq: await t.store.lastSeq() });
      b.submit('a goal with a NUL \u0000 in it', [{ id: 'a', title: 'A \ud800', instructions: 'Do A.' }]);
      const token = b.claim('a', 'w1');
      b.complete('a', 'w1', token, 'out\u0000put \udfff end');
      await appendEntries(t.store, b.entries);
      const db = await newDatabase();
      const retries: PgRetry[] = [];
      const projector = await start(db.url, { retryDelaysMs: [50], onRetry: (retry) => retries.push(retry) });
      try {
        await projector.caughtUp;
      } finally {
        await projector.stop();
      }
      expect(retries).toEqual([]);
      const [graph] = await db.query<{ goal: string }>('SELECT goal FROM graphs WHERE id = $1', [graphId]);
      expect(graph?.goal).toBe('a goal with a NUL \ufffd in it');
      const [task] = await db.query<{ title: string }>(
        'SELECT title FROM tasks WHERE graph_id = $1 AND id = $2',
        [graphId, 'a'],
      );
      expect(task?.title).toBe('A \ufffd');
      const [result] = await db.query<{ output: string; answer: string }>(
        `SELECT output, history->0->'action'->>'answer' AS answer FROM results WHERE graph_id = $1`,
        [graphId],
      );
      expect(result).toEqual({ output: 'out\ufffdput \ufffd end', answer: 'out\ufffdput \ufffd end' });
      await expectEveryEventOnce(db);
    });
  },
);
