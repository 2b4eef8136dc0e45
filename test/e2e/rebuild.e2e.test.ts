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
});
