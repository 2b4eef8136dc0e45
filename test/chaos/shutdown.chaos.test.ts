import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  am,
  killAll,
  type Proc,
  spawnProc,
  startServer,
  submitGraph,
  workerConfig,
} from '../e2e/support/processes.ts';
import { type FakeOpenAiServer, jsonReply, startFakeOpenAiServer } from '../fixtures/fake-openai-server.ts';
import { freePort, makeTempDir, startTestNats, type TestNats, testNatsIsExternal } from '../kit/index.ts';

/** The documented deadline: SIGTERM ends every long-running command within this. */
const DEADLINE_MS = 10_000;

/** Sends SIGTERM and resolves with the exit code and how long the process took to end. */
async function terminate(proc: Proc): Promise<{ code: number | string; ms: number }> {
  const startedAt = Date.now();
  const code = await proc.stop('SIGTERM');
  return { code, ms: Date.now() - startedAt };
}

/**
 * SIGTERM with the things a process depends on already dead: each long-running command ends within the
 * documented deadline (a process that hangs is SIGKILLed by Docker, Kubernetes or systemd instead).
 */
describe.skipIf(testNatsIsExternal())('shutdown with NATS already dead', () => {
  let nats: TestNats;
  let fake: FakeOpenAiServer;

  afterAll(async () => {
    await killAll();
    await nats?.cleanup();
    await fake?.close();
  });

  it('am server, and am workers holding tasks (NATS and HTTP transports), each exit within 10 s', async () => {
    nats = await startTestNats();
    fake = await startFakeOpenAiServer();
    // The model answers after a minute: the workers hold their tasks when the signal comes.
    fake.setFallback({
      ...jsonReply({
        thought: 'done',
        action: { kind: 'final', tool: null, input: null, answer: 'slow answer' },
      }),
      delayMs: 60_000,
    });
    const dir = makeTempDir('am-chaos-shutdown');
    const server = await startServer({ natsUrl: nats.url, dir });
    const llm = { AM_LLM_PROVIDER: 'openai', OPENAI_BASE_URL: fake.baseURL, OPENAI_API_KEY: 'test-key' };
    const natsWorker = am(
      [
        'worker',
        '--config',
        await workerConfig(server, dir, 'sd-nats', { nats_url: nats.url }),
        '--transport',
        'nats',
      ],
      llm,
    );
    const httpWorker = am(['worker', '--config', await workerConfig(server, dir, 'sd-http')], llm);
    await submitGraph(server, {
      goal: 'hold these',
      tasks: [1, 2, 3, 4].map((n) => ({ id: `h${n}`, title: `Hold ${n}`, instructions: 'Think slowly' })),
    });
    await natsWorker.waitFor(/claimed /, 30_000);
    await httpWorker.waitFor(/claimed /, 30_000);

    await nats.kill();
    const [serverExit, natsWorkerExit] = await Promise.all([terminate(server.proc), terminate(natsWorker)]);
    // The HTTP worker's server is gone by now too.
    const httpWorkerExit = await terminate(httpWorker);
    console.log(JSON.stringify({ serverExit, natsWorkerExit, httpWorkerExit }));
    for (const exit of [serverExit, natsWorkerExit, httpWorkerExit]) {
      expect(exit.ms).toBeLessThan(DEADLINE_MS);
      expect(typeof exit.code).toBe('number');
    }
    expect(serverExit.code).toBe(0);
    expect(natsWorker.output()).toMatch(/lost the server/);
  });

  it('am up, its nats-server killed, exits within 10 s and leaves no worker behind', async () => {
    const home = makeTempDir('am-chaos-shutdown-up');
    const port = await freePort();
    const up = spawnProc(process.execPath, [join(import.meta.dirname, '../../bin/am.mjs'), 'up'], {
      AM_HOME: home,
      AM_HTTP_PORT: String(port),
      NATS_URL: undefined,
      AM_ADMIN_TOKEN: undefined,
      AM_LLM_PROVIDER: 'offline',
    });
    await up.waitFor(/Stop with Ctrl-C/, 90_000);
    const natsPid = Number(readFileSync(join(home, 'nats', 'nats-server.pid'), 'utf8').trim());
    process.kill(natsPid, 'SIGKILL');
    const workerPids = childPidsOf(up.child.pid ?? -1);
    expect(workerPids.length).toBeGreaterThanOrEqual(2);
    const exit = await terminate(up);
    console.log(JSON.stringify({ upExit: exit }));
    expect(exit.ms).toBeLessThan(DEADLINE_MS);
    expect(workerPids.filter(isAlive)).toEqual([]);
  });
});

/** The pids whose parent is `pid` (Linux /proc). */
function childPidsOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
