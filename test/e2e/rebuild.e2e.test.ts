import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, startTestNats, type TestNats } from '../kit/index.ts';
import { am, api, killAll, startServer, submitGraph } from './support/processes.ts';

describe('am projections rebuild --db on the file of a running server', () => {
  let nats: TestNats;
  let dir: string;

  beforeAll(async () => {
    nats = await startTestNats();
    dir = makeTempDir('am-e2e-rebuild');
  });
  afterAll(async () => {
    await killAll();
    await nats?.cleanup();
  });

  it('is refused naming the file while the server runs, and rebuilds it once the server has stopped', async () => {
    const server = await startServer({ natsUrl: nats.url, dir, name: 'live', env: { AM_MANAGER: 'false' } });
    const db = join(dir, `live-${new URL(server.url).port}.sqlite`);
    const { graphId, seq } = await submitGraph(server, {
      goal: 'a graph the rebuild must keep',
      tasks: [{ id: 'a', title: 'A', instructions: 'Do A.' }],
    });
    const env = { NATS_URL: nats.url, AM_HOME: dir };

    const refused = am(['projections', 'rebuild', '--db', db], env);
    expect(await refused.exited).not.toBe(0);
    expect(refused.output()).toContain(`the read model ${db} is in use by another AgentManager process`);
    // The server kept its file and still answers from it.
    const read = await api<{ graph: { id: string } }>(
      server.url,
      server.adminToken,
      'GET',
      `/v1/graphs/${graphId}?minSeq=${seq}`,
    );
    expect(read.status).toBe(200);
    expect(read.body.graph.id).toBe(graphId);

    expect(await server.proc.stop('SIGTERM')).toBe(0);
    const rebuilt = am(['projections', 'rebuild', '--db', db], env);
    expect({ code: await rebuilt.exited, output: rebuilt.output() }).toMatchObject({ code: 0 });
    expect(rebuilt.output()).toMatch(/rebuilt .*live-\d+\.sqlite: \d+ events/);
  }, 120_000);

  it('without --db finds the file of the server that used AM_HOME, and names it; with several it asks', async () => {
    const home = makeTempDir('am-e2e-rebuild-home');
    // The file a server on port 18123 left (an empty file is an empty SQLite database).
    writeFileSync(join(home, 'read-model-18123.sqlite'), '');
    const env = { NATS_URL: nats.url, AM_HOME: home, AM_HTTP_PORT: undefined, AM_DB: undefined };
    const found = am(['projections', 'rebuild'], env);
    expect({ code: await found.exited, output: found.output() }).toMatchObject({ code: 0 });
    expect(found.output()).toContain(
      `rebuilding ${join(home, 'read-model-18123.sqlite')} (the read model of the server on port 18123, the only one in ${home} (none for AM_HTTP_PORT 8080))`,
    );
    expect(found.output()).toMatch(/rebuilt .*read-model-18123\.sqlite: \d+ events/);
    expect(existsSync(join(home, 'read-model-8080.sqlite'))).toBe(false);

    writeFileSync(join(home, 'read-model-18124.sqlite'), '');
    const ambiguous = am(['projections', 'rebuild'], env);
    expect(await ambiguous.exited).not.toBe(0);
    expect(ambiguous.output()).toContain(
      'holds the read models of several servers and none for AM_HTTP_PORT 8080',
    );
    expect(ambiguous.output()).toContain(`${join(home, 'read-model-18124.sqlite')} (port 18124`);
    expect(ambiguous.output()).toContain('choose one with --db FILE');
  }, 60_000);
});
