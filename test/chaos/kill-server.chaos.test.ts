import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  am,
  isTerminal,
  killAll,
  type Proc,
  type ServerProc,
  startServer,
  submitGraph,
  waitForGraph,
} from '../e2e/support/processes.ts';
import { dumpTables } from '../int/projections/dump-tables.ts';
import { freePort, makeTempDir, startTestNats, type TestNats, testNatsIsExternal } from '../kit/index.ts';
import { completionAnomalies, eventsOf, readStream, slowWorker } from './support.ts';

const GRAPHS = 4;
const TASKS = 25;

/**
 * `am server` SIGKILLed mid-run (its read model's last commit window is lost with it) and started again
 * on the same file: once the run is over, its read model equals one `am projections rebuild` makes from
 * the stream — the checkpoint in the same transaction as the rows neither skipped nor re-applied an event.
 */
describe.skipIf(testNatsIsExternal())('a server killed -9 mid-run and restarted on its read model', () => {
  let nats: TestNats;
  let dir: string;
  let db: string;
  let server: ServerProc;
  const workers: Proc[] = [];
  const graphIds: string[] = [];
  let completedAtKill = 0;

  beforeAll(async () => {
    nats = await startTestNats();
    dir = makeTempDir('am-chaos-kill-server');
    db = join(dir, 'server.sqlite');
    const port = await freePort();
    const env = { AM_DB: db };
    server = await startServer({ natsUrl: nats.url, dir, port, env });
    for (const i of [0, 1]) {
      workers.push(
        await slowWorker(server, dir, `ks-w${i}`, {
          transport: 'http',
          natsUrl: nats.url,
          slowMs: 100,
          concurrency: 2,
        }),
      );
    }
    for (let g = 0; g < GRAPHS; g++) {
      const { graphId } = await submitGraph(server, {
        goal: `kill the server ${g}`,
        tasks: Array.from({ length: TASKS }, (_, t) => ({
          id: `t${t}`,
          title: `Task ${t}`,
          instructions: `Compute step ${t}`,
          ...(t >= 5 ? { dependsOn: [`t${t - 5}`] } : {}),
        })),
      });
      graphIds.push(graphId);
    }
    // Mid-run: some of the work done, most of it not.
    for (;;) {
      const entries = await readStream(nats);
      completedAtKill = eventsOf(entries).filter((e) => e.event.type === 'TaskCompleted').length;
      if (completedAtKill >= 20) break;
      await sleep(50);
    }
    await server.proc.stop('SIGKILL');
    server = await startServer({ natsUrl: nats.url, dir, port, adminToken: server.adminToken, env });
    for (const graphId of graphIds) {
      const graph = await waitForGraph(server, graphId, isTerminal, 90_000);
      expect(graph.graph.status).toBe('SUCCEEDED');
    }
    await Promise.all(workers.map((w) => w.stop('SIGTERM')));
    expect(await server.proc.stop('SIGTERM')).toBe(0);
  }, 200_000);

  afterAll(async () => {
    await killAll();
    await nats?.cleanup();
  });

  it('ends with a read model equal, row by row, to a fresh am projections rebuild', async () => {
    const rebuiltPath = join(dir, 'rebuilt.sqlite');
    const rebuild = am(['projections', 'rebuild', '--db', rebuiltPath], {
      NATS_URL: nats.url,
      AM_HOME: dir,
    });
    expect(await rebuild.exited).toBe(0);
    const served = new Database(db, { readonly: true });
    const rebuilt = new Database(rebuiltPath, { readonly: true });
    try {
      const ours = dumpTables(served);
      const fresh = dumpTables(rebuilt);
      expect(ours).toEqual(fresh);
      expect((ours.tasks ?? []).length).toBe(GRAPHS * (TASKS + 1));
    } finally {
      served.close();
      rebuilt.close();
    }
  });

  it('no task has two accepted completions in a cycle', async () => {
    const entries = await readStream(nats);
    const anomalies = completionAnomalies(eventsOf(entries));
    expect(anomalies.duplicates).toEqual([]);
    expect(anomalies.notFromCurrentClaim).toEqual([]);
    console.log(
      JSON.stringify({
        completedAtKill,
        completions: anomalies.completions,
        streamEvents: entries.length,
      }),
    );
  });
});
