import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, makeTempDir, startTestNats, type TestNats } from '../kit/index.ts';
import {
  am,
  killAll,
  ROOT,
  type ServerProc,
  spawnProc,
  startServer,
  submitGraph,
  trail,
  waitForGraph,
  workerConfig,
} from './support/processes.ts';

const explicitGraph = (prefix: string) => ({
  goal: `Explicit graph ${prefix}`,
  tasks: [
    { id: `${prefix}-a`, title: 'Add numbers', instructions: 'Compute 17+25.' },
    { id: `${prefix}-b`, title: 'Multiply numbers', instructions: 'Compute 6*7.' },
    {
      id: `${prefix}-c`,
      title: 'Combine',
      instructions: 'Combine both results.',
      dependsOn: [`${prefix}-a`, `${prefix}-b`],
    },
  ],
});

describe('the worker process (am worker)', () => {
  let nats: TestNats;
  let server: ServerProc;
  let dir: string;

  beforeAll(async () => {
    nats = await startTestNats();
    dir = makeTempDir('am-e2e-worker');
    server = await startServer({ natsUrl: nats.url, dir, env: { AM_MANAGER: 'false' } });
  });

  afterAll(async () => {
    await killAll();
    await nats?.cleanup();
  });

  describe.each(['http', 'nats'] as const)('over %s', (transport) => {
    it('connects from a mcp_client_config.json, claims, executes and posts every result of an explicit graph', async () => {
      const config = await workerConfig(server, dir, `w-${transport}`, { nats_url: nats.url });
      const worker = am(['worker', '--config', config, '--transport', transport]);
      await worker.waitFor(new RegExp(`over ${transport}`));
      const { graphId } = await submitGraph(server, explicitGraph(transport));
      const graph = await waitForGraph(server, graphId, (g) =>
        g.tasks.filter((t) => t.kind === 'work').every((t) => t.status === 'COMPLETED'),
      );
      for (const task of graph.tasks.filter((t) => t.kind === 'work')) {
        expect(task.result?.agentId).toBe(`w-${transport}`);
        expect(task.result?.model).toBe('offline');
        expect(task.result?.history.length).toBeGreaterThan(0);
      }
      // The calculator really ran: its observation is in the history of the arithmetic task.
      const multiply = graph.tasks.find((t) => t.id === `${transport}-b`);
      expect(multiply?.result?.history.some((s) => s.action.type === 'tool' && s.observation === '42')).toBe(
        true,
      );
      expect(await worker.stop('SIGTERM')).toBe(0);
    });
  });

  describe('when a worker gets SIGTERM in the middle of a task', () => {
    it('releases the task, and another worker completes it: nothing is lost', async () => {
      const slowConfig = await workerConfig(server, dir, 'slow-1');
      const { graphId } = await submitGraph(server, {
        goal: 'one slow task',
        tasks: [{ id: 'slow', title: 'Slow', instructions: 'take your time' }],
      });
      const token = (JSON.parse(readFileSync(slowConfig, 'utf8')) as { auth_token: string }).auth_token;
      const slow = spawnProc(
        process.execPath,
        ['--import', 'tsx', join(ROOT, 'test/fixtures/slow-worker.ts')],
        {
          AM_URL: server.url,
          AM_TOKEN: token,
          GRACE_MS: '200',
        },
      );
      await slow.waitFor(/claimed slow/);
      expect(await slow.stop('SIGTERM')).toBe(0);
      expect(slow.output()).toMatch(/released slow/);
      const fastConfig = await workerConfig(server, dir, 'fast-1');
      const fast = am(['worker', '--config', fastConfig]);
      const graph = await waitForGraph(
        server,
        graphId,
        (g) => g.tasks.find((t) => t.id === 'slow')?.status === 'COMPLETED',
      );
      expect(graph.tasks.find((t) => t.id === 'slow')?.result?.agentId).toBe('fast-1');
      const types = (await trail(server, graphId)).map((e) => `${e.type}:${e.actor}`);
      expect(types).toEqual(
        expect.arrayContaining([
          'TaskClaimed:slow-1',
          'TaskReleased:slow-1',
          'TaskClaimed:fast-1',
          'TaskCompleted:fast-1',
        ]),
      );
      // The release used no attempt.
      expect(graph.tasks.find((t) => t.id === 'slow')?.attempts).toBe(0);
      await fast.stop();
    });
  });

  describe('when something is wrong it says so in one line and exits non-zero', () => {
    it('names the field of a broken config file', async () => {
      const broken = join(dir, 'broken.json');
      writeFileSync(broken, JSON.stringify({ client_agent_id: 'x', server_url: server.url }));
      const proc = am(['worker', '--config', broken]);
      expect(await proc.exited).not.toBe(0);
      const lines = proc.output().trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^am: .*broken\.json: auth_token/);
      expect(proc.output()).not.toMatch(/\n\s+at /);
    });

    it('says the server cannot be reached', async () => {
      const closed = await freePort();
      const file = join(dir, 'unreachable.json');
      writeFileSync(
        file,
        JSON.stringify({
          client_agent_id: 'x',
          server_url: `http://127.0.0.1:${closed}`,
          auth_token: 'a-token-that-is-long-enough',
        }),
      );
      const proc = am(['worker', '--config', file]);
      expect(await proc.exited).not.toBe(0);
      expect(proc.output().trim()).toMatch(
        /^am: cannot reach the server at http:\/\/127\.0\.0\.1:\d+ .*running/,
      );
      expect(proc.output().trim().split('\n')).toHaveLength(1);
    });

    it('says the server refused the token', async () => {
      const file = join(dir, 'wrong-token.json');
      writeFileSync(
        file,
        JSON.stringify({
          client_agent_id: 'x',
          server_url: server.url,
          auth_token: 'a-wrong-token-value-123',
        }),
      );
      const proc = am(['worker', '--config', file]);
      expect(await proc.exited).not.toBe(0);
      expect(proc.output().trim()).toMatch(/^am: the server at .* refused the token \(AM_ERR_AUTH_INVALID\)/);
    });

    it('says how to install nats-server when the binary is missing', async () => {
      const proc = am(['up'], {
        NATS_URL: undefined,
        AM_HOME: join(dir, 'no-binary-home'),
        AM_NATS_SERVER_BIN: join(dir, 'no-such-nats-server'),
        AM_HTTP_PORT: String(await freePort()),
      });
      expect(await proc.exited).not.toBe(0);
      const out = proc.output().trim();
      expect(out.split('\n')).toHaveLength(1);
      expect(out).toMatch(/^am: nats-server not found/);
      expect(out).toMatch(/apt-get install nats-server/);
      expect(out).toMatch(/brew install nats-server/);
      expect(out).toMatch(/NATS_URL/);
    });
  });
});
