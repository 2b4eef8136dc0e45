import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redactPostgresUrl } from '../../src/projections/postgres/index.ts';
import { EventStore } from '../../src/store/event-store.ts';
import {
  createTestDatabase,
  eventsCoverage,
  postgresUnreachable,
  SHARED_TABLES,
  type SharedTable,
  sharedRows,
  TEST_POSTGRES_URL,
  type TestDatabase,
} from '../int/projections/postgres-test-db.ts';
import { appendEntries, buildReworkWorkload } from '../int/projections/postgres-workload.ts';
import { makeTempDir, removeTempDir, startTestNats, type TestNats, waitUntil } from '../kit/index.ts';
import {
  am,
  api,
  killAll,
  type ServerProc,
  startServer,
  submitGraph,
  workerConfig,
} from './support/processes.ts';

// Skipped only when no Postgres answers, and then it says so.
const unreachable = await postgresUnreachable();
if (unreachable !== null) {
  console.warn(
    `postgres-projector.e2e.test.ts SKIPPED: no PostgreSQL reachable at ${redactPostgresUrl(TEST_POSTGRES_URL)} (${unreachable}); set AM_TEST_POSTGRES_URL to a server where this role may create databases`,
  );
}

/** Events the replay goes through: enough that it takes a moment, so a kill lands in the middle of it. */
const WORKLOAD_EVENTS = 20_000;

describe.skipIf(unreachable !== null)(
  `am projections serve --postgres against a real am server${unreachable === null ? '' : ' (skipped: no PostgreSQL reachable)'}`,
  () => {
    let nats: TestNats;
    let dir: string;
    let server: ServerProc;
    let nc: NatsConnection;
    let store: EventStore;
    let db: TestDatabase;

    beforeAll(async () => {
      nats = await startTestNats();
      dir = makeTempDir('am-e2e-postgres');
      server = await startServer({ natsUrl: nats.url, dir, name: 'server', env: { AM_MANAGER: 'false' } });
      nc = await nats.connect('e2e-writer');
      store = await EventStore.open(nc, nats.settings);
      db = await createTestDatabase();
    });
    afterAll(async () => {
      await killAll();
      await db?.drop().catch(() => {});
      await nats?.cleanup();
      if (dir) removeTempDir(dir);
    });

    const checkpoint = async (): Promise<number> => {
      const [row] = await db.query<{ last_seq: string }>('SELECT last_seq FROM am_checkpoint');
      return Number(row?.last_seq ?? 0);
    };
    const serve = () =>
      am(['projections', 'serve', '--postgres', db.url, '--batch', '250'], {
        NATS_URL: nats.url,
        AM_HOME: dir,
      });

    it('is SIGKILLed and SIGTERMed mid-replay, resumes each time, follows live appends, and ends with tables equal to the SQLite read model and every event once', async () => {
      // Events the server makes itself (an agent, a submitted graph), then a trail written directly.
      await workerConfig(server, dir, 'pg-worker');
      const submitted = await submitGraph(server, {
        goal: 'a graph the server plans',
        tasks: [
          { id: 'a', title: 'A', instructions: 'Do A.' },
          { id: 'b', title: 'B', instructions: 'Do B.', dependsOn: ['a'] },
        ],
      });
      const appendStarted = performance.now();
      const workload = buildReworkWorkload(store.subjects, await store.lastSeq(), WORKLOAD_EVENTS, {
        tasks: 10,
        steps: 3,
      });
      await appendEntries(store, workload.entries);
      const appendMs = performance.now() - appendStarted;
      const tail = await store.lastSeq();
      expect(tail).toBe(workload.lastSeq);

      // 1. Killed a quarter of the way through the replay, with no chance to finish its transaction.
      const first = serve();
      const replayStarted = performance.now();
      await waitUntil(async () => (await checkpoint()) >= tail / 4, {
        intervalMs: 5,
        timeoutMs: 60_000,
        message: 'a quarter of the replay',
      });
      first.child.kill('SIGKILL');
      await first.exited;
      const killedAt = await checkpoint();
      const killedAfterMs = performance.now() - replayStarted;
      expect(killedAt).toBeGreaterThan(0);
      expect(killedAt).toBeLessThan(tail);

      // 2. Started again from its checkpoint, and stopped mid-replay by SIGTERM: within seconds, exit 0,
      // and what it says it stopped at is what Postgres holds.
      const second = serve();
      const resumed = await second.waitFor(/from seq (\d+), (\d+) events to catch up/, 30_000);
      expect(Number(resumed[1])).toBe(killedAt + 1);
      await waitUntil(async () => (await checkpoint()) >= killedAt + (tail - killedAt) / 3, {
        intervalMs: 5,
        timeoutMs: 60_000,
        message: 'the resumed replay under way',
      });
      const termMidReplayAt = performance.now();
      expect(await second.stop('SIGTERM')).toBe(0);
      const termMidReplayMs = performance.now() - termMidReplayAt;
      const stoppedAt = Number(/stopped at seq (\d+)/.exec(second.output())?.[1]);
      expect(stoppedAt).toBe(await checkpoint());
      expect(stoppedAt).toBeLessThan(tail);
      expect(termMidReplayMs).toBeLessThan(5_000);

      // 3. Started once more: on to the end of the stream.
      const third = serve();
      expect(Number((await third.waitFor(/from seq (\d+),/, 30_000))[1])).toBe(stoppedAt + 1);
      const caught = await third.waitFor(/caught up at seq (\d+) \((\d+) events\/s\)/, 120_000);
      expect(Number(caught[1])).toBe(tail);

      // 4. Following: a graph submitted now reaches Postgres too.
      const live = await submitGraph(server, {
        goal: 'a graph submitted while it follows',
        tasks: [{ id: 'x', title: 'X', instructions: 'Do X.' }],
      });
      await waitUntil(async () => (await checkpoint()) >= live.seq, {
        timeoutMs: 10_000,
        message: 'the live append',
      });
      const [liveGraph] = await db.query<{ status: string }>('SELECT status FROM graphs WHERE id = $1', [
        live.graphId,
      ]);
      expect(liveGraph?.status).toBe('RUNNING');

      // 5. SIGTERM while following ends it within seconds, cleanly.
      const termAt = performance.now();
      expect(await third.stop('SIGTERM')).toBe(0);
      const termMs = performance.now() - termAt;
      expect(termMs).toBeLessThan(5_000);
      expect(third.output()).toMatch(/stopped at seq \d+/);

      // The server's own SQLite read model, once it holds the same stream, is what Postgres must equal.
      const finalTail = await store.lastSeq();
      const read = await api(
        server.url,
        server.adminToken,
        'GET',
        `/v1/graphs/${submitted.graphId}?minSeq=${finalTail}`,
      );
      expect(read.status).toBe(200);
      expect(await server.proc.stop('SIGTERM')).toBe(0);
      const sqlitePath = join(dir, `server-${new URL(server.url).port}.sqlite`);
      for (const table of Object.keys(SHARED_TABLES) as SharedTable[]) {
        const { sqlite, postgres } = await sharedRows(sqlitePath, db, table);
        expect(postgres.length, `${table} rows`).toBe(sqlite.length);
        expect(postgres, `${table} rows`).toEqual(sqlite);
      }
      expect(await eventsCoverage(db)).toEqual({
        rows: finalTail,
        distinct: finalTail,
        min: 1,
        max: finalTail,
      });
      expect(await checkpoint()).toBe(finalTail);

      const replayRate = Number(caught[2]);
      console.info(
        [
          `workload: ${tail} events appended in ${(appendMs / 1000).toFixed(2)} s (${Math.round(tail / (appendMs / 1000))} events/s)`,
          `first run SIGKILLed ${Math.round(killedAfterMs)} ms after start, at seq ${killedAt} of ${tail} (${((100 * killedAt) / tail).toFixed(1)}%)`,
          `second run resumed from seq ${killedAt + 1}, SIGTERMed at seq ${stoppedAt}: exited in ${Math.round(termMidReplayMs)} ms`,
          `third run resumed from seq ${stoppedAt + 1} and caught up at ${tail}: ${replayRate} events/s`,
          `SIGTERM while following: exited in ${Math.round(termMs)} ms`,
        ].join('\n'),
      );
    }, 240_000);
  },
);
