import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrailEvent } from '../../src/protocol/index.ts';
import { makeTempDir, removeTempDir, startTestNats, type TestNats } from '../kit/index.ts';
import {
  api,
  isTerminal,
  killAll,
  type Proc,
  ROOT,
  type ServerProc,
  spawnProc,
  startServer,
  submitGraph,
  trail,
  waitForGraph,
  workerConfig,
} from './support/processes.ts';

const CLIENT_DIR = join(ROOT, 'clients/python');
const WORKER_SCRIPT = join(CLIENT_DIR, 'client_worker.py');
/** No .pyc files in the checkout; output as it happens (the tests wait for lines). */
const PY_ENV = { PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' };
const TASKS = 30;

/**
 * The first interpreter that can import httpx: `python3` on PATH may be one without it (a pyenv
 * Python), while Debian's /usr/bin/python3 has python3-httpx.
 */
function pythonWithHttpx(): string | null {
  for (const candidate of ['python3', '/usr/bin/python3']) {
    const probe = spawnSync(candidate, ['-c', 'import httpx'], { stdio: 'ignore', timeout: 20_000 });
    if (probe.status === 0) return candidate;
  }
  return null;
}

/** A graph of 30 tasks: ten roots, ten depending on one root each, ten depending on two earlier tasks. */
const thirtyTasks = () => ({
  goal: 'Brief notes on thirty topics, for the Python workers',
  tasks: Array.from({ length: TASKS }, (_, t) => ({
    id: `t${t}`,
    title: `Topic ${t} overview`,
    instructions: `Summarise the history of topic ${t} in two sentences.`,
    ...(t >= 20 ? { dependsOn: [`t${t - 20}`, `t${t - 10}`] } : t >= 10 ? { dependsOn: [`t${t - 10}`] } : {}),
  })),
});

/**
 * Replays the task subjects of a trail: a completion is accepted only from the holder of the current
 * claim. Returns the accepted completions per `task:cycle` and who made them, and any completion that
 * was not from the current holder.
 */
function acceptedCompletions(events: TrailEvent[]) {
  const holder = new Map<string, { token: number; agent: string; cycle: number } | null>();
  const perTaskCycle = new Map<string, number>();
  const byAgent = new Map<string, number>();
  const notFromHolder: TrailEvent[] = [];
  for (const event of events) {
    const taskId = event.taskId ?? '';
    if (event.type === 'TaskClaimed') {
      const data = event.data as { cycle: number };
      holder.set(taskId, { token: event.seq, agent: event.actor ?? '', cycle: data.cycle });
    } else if (event.type === 'TaskCompleted') {
      const current = holder.get(taskId);
      const data = event.data as { claimToken: string };
      if (!current || current.token !== Number(data.claimToken) || current.agent !== event.actor) {
        notFromHolder.push(event);
        continue;
      }
      const key = `${taskId}:${current.cycle}`;
      perTaskCycle.set(key, (perTaskCycle.get(key) ?? 0) + 1);
      byAgent.set(current.agent, (byAgent.get(current.agent) ?? 0) + 1);
      holder.set(taskId, null);
    } else if (['TaskReleased', 'TaskLeaseExpired', 'TaskAttemptFailed', 'TaskFailed'].includes(event.type)) {
      holder.set(taskId, null);
    }
  }
  return { perTaskCycle, byAgent, notFromHolder };
}

describe('the Python worker client (clients/python/client_worker.py)', () => {
  let python: string;
  let nats: TestNats;
  let server: ServerProc;
  let dir: string;

  const pythonWorker = (args: string[], env: Record<string, string> = {}): Proc =>
    spawnProc(python, [WORKER_SCRIPT, ...args], { ...PY_ENV, ...env });

  beforeAll(async () => {
    const found = pythonWithHttpx();
    if (found === null) {
      throw new Error(
        'no Python with httpx: neither `python3` on PATH nor /usr/bin/python3 can `import httpx`; ' +
          'install python3-httpx (apt-get install python3-httpx) or `pip install httpx`',
      );
    }
    python = found;
    nats = await startTestNats();
    dir = makeTempDir('am-e2e-python-worker');
    server = await startServer({ natsUrl: nats.url, dir });
  });

  afterAll(async () => {
    await killAll();
    await nats?.cleanup();
    if (dir) removeTempDir(dir);
  });

  it('passes its pure-Python unit tests (python3 -m unittest)', () => {
    const run = spawnSync(python, ['-m', 'unittest', 'discover', '-s', 'tests', '-t', '.'], {
      cwd: CLIENT_DIR,
      env: { ...process.env, ...PY_ENV },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    const ran = Number(/Ran (\d+) tests?/.exec(run.stderr)?.[1] ?? 0);
    expect(ran).toBeGreaterThanOrEqual(20);
  });

  it('three python workers at once run a 30-task graph with dependencies to SUCCEEDED, each task completed once', async () => {
    const agents = ['py1', 'py2', 'py3'];
    const workers: Proc[] = [];
    for (const [i, agentId] of agents.entries()) {
      // Fields another client uses (MCP tool servers, tool modules) are ignored, not refused.
      const config = await workerConfig(server, dir, agentId, { mcpServers: {}, tool_modules: [] });
      workers.push(pythonWorker(['--config', config, ...(i === 0 ? ['--concurrency', '2'] : [])]));
    }
    await Promise.all(workers.map((worker) => worker.waitFor(/polling http/, 30_000)));

    const started = Date.now();
    const { graphId } = await submitGraph(server, thirtyTasks());
    const graph = await waitForGraph(server, graphId, isTerminal, 120_000).catch((error: unknown) => {
      const outputs = workers.map((w, i) => `--- ${agents[i]}:\n${w.output().slice(-3_000)}`);
      throw new Error(`${(error as Error).message}\n${outputs.join('\n')}`);
    });
    const wallMs = Date.now() - started;
    expect(graph.graph.status).toBe('SUCCEEDED');
    // The offline auditor passed every output in the first cycle: each addresses its task.
    expect(graph.audits).toHaveLength(1);
    expect(graph.audits[0]?.passed).toBe(true);
    expect(graph.graph.output).toMatch(
      /^Final answer \(offline synthesis\) for: Brief notes on thirty topics/,
    );
    for (const task of graph.tasks) {
      expect(agents).toContain(task.result?.agentId);
      expect(task.result?.model).toBe('offline');
      expect(task.result?.history.at(-1)?.action).toEqual({ type: 'final', answer: task.result?.output });
    }

    const events = await trail(server, graphId);
    const { perTaskCycle, byAgent, notFromHolder } = acceptedCompletions(events);
    expect(notFromHolder).toEqual([]);
    const expected = [...Array.from({ length: TASKS }, (_, t) => `t${t}:1`), '_synthesis:1'];
    expect([...perTaskCycle.keys()].sort()).toEqual(expected.sort());
    expect([...perTaskCycle.values()].every((count) => count === 1)).toBe(true);
    for (const event of events.filter((e) => e.type === 'TaskCompleted'))
      expect(agents).toContain(event.actor);
    // The work was spread: more than one agent completed tasks.
    expect(byAgent.size).toBeGreaterThan(1);
    // Steps were streamed as progress while the tasks ran.
    expect(events.filter((e) => e.type === 'TaskProgressed').length).toBeGreaterThanOrEqual(TASKS);

    const stopStarted = Date.now();
    const codes = await Promise.all(workers.map((worker) => worker.stop('SIGTERM')));
    const stopMs = Date.now() - stopStarted;
    expect(codes).toEqual([0, 0, 0]);
    expect(stopMs).toBeLessThan(5_000);
    console.log(
      JSON.stringify({
        python,
        graphTasks: TASKS + 1,
        wallMs,
        tasksPerAgent: Object.fromEntries(agents.map((a) => [a, byAgent.get(a) ?? 0])),
        idleStopMs: stopMs,
      }),
    );
  });

  it('on SIGTERM while a task runs past the grace period, releases it and exits 0 within seconds', async () => {
    // A handler that ignores context.cancelled: the worker cannot finish it, so it must give it back.
    writeFileSync(
      join(dir, 'stubborn_handler.py'),
      [
        'import time',
        '',
        'def handle(task, context):',
        '    print(f"stubborn handler started {task.id}", flush=True)',
        '    time.sleep(120)',
        '    return "too late"',
        '',
      ].join('\n'),
    );
    const config = await workerConfig(server, dir, 'py-slow');
    const slow = pythonWorker(['--config', config, '--handler', 'stubborn_handler:handle', '--grace', '1'], {
      PYTHONPATH: dir,
    });
    await slow.waitFor(/polling http/, 30_000);
    const { graphId } = await submitGraph(server, {
      goal: 'one long task',
      tasks: [{ id: 'long', title: 'Long analysis', instructions: 'Analyse the long dataset slowly.' }],
    });
    await slow.waitFor(/stubborn handler started long/, 30_000);

    const signalled = Date.now();
    expect(await slow.stop('SIGTERM')).toBe(0);
    const exitMs = Date.now() - signalled;
    expect(exitMs).toBeLessThan(5_000);
    expect(slow.output()).toMatch(/released \S+\/long: worker shutting down/);

    const released = await trail(server, graphId);
    const claimed = released.find((e) => e.type === 'TaskClaimed' && e.taskId === 'long');
    const release = released.find((e) => e.type === 'TaskReleased' && e.taskId === 'long');
    expect(claimed?.actor).toBe('py-slow');
    expect(release?.actor).toBe('py-slow');
    expect((release?.data as { claimToken?: string } | undefined)?.claimToken).toBe(String(claimed?.seq));

    // Nothing was lost: another python worker (the offline handler) completes the released task.
    const after = pythonWorker(['--config', await workerConfig(server, dir, 'py-after'), '--quiet']);
    const graph = await waitForGraph(server, graphId, isTerminal, 60_000);
    expect(graph.graph.status).toBe('SUCCEEDED');
    const long = graph.tasks.find((t) => t.id === 'long');
    expect(long?.result?.agentId).toBe('py-after');
    // A release uses no attempt.
    expect(long?.attempts).toBe(0);
    // Idle again right after its work: its long-poll is ended at once, whenever it reached the server.
    const afterSignalled = Date.now();
    expect(await after.stop('SIGTERM')).toBe(0);
    const afterExitMs = Date.now() - afterSignalled;
    expect(afterExitMs).toBeLessThan(3_000);
    console.log(JSON.stringify({ sigtermWithStubbornTaskExitMs: exitMs, graceMs: 1_000, afterExitMs }));
  });

  it('stops with exit code 1 and says so when its agent is revoked', async () => {
    const config = await workerConfig(server, dir, 'py-revoked');
    const worker = pythonWorker(['--config', config]);
    await worker.waitFor(/polling http/, 30_000);
    const revoke = await api(server.url, server.adminToken, 'POST', '/v1/agents/py-revoked/revoke');
    expect(revoke.status).toBe(202);
    expect(await worker.exited).toBe(1);
    expect(worker.output()).toMatch(/refused this agent \(AM_ERR_AUTH_REVOKED/);
  });

  describe('a bad config file: exit code 2, and stderr names the file and the field', () => {
    const runWith = (name: string, content: string, extra: string[] = []) => {
      const file = join(dir, name);
      writeFileSync(file, content);
      const run = spawnSync(python, [WORKER_SCRIPT, '--config', file, ...extra], {
        env: { ...process.env, ...PY_ENV },
        encoding: 'utf8',
        timeout: 30_000,
      });
      return { file, status: run.status, stderr: run.stderr, stdout: run.stdout };
    };

    it('a missing auth_token', () => {
      const run = runWith('no-token.json', JSON.stringify({ client_agent_id: 'x', server_url: server.url }));
      expect(run.status).toBe(2);
      expect(run.stderr.trim()).toBe(`client_worker: ${run.file}: auth_token: required`);
      expect(run.stdout).toBe('');
    });

    it('a concurrency that is not a number, beside fields it does not use', () => {
      const run = runWith(
        'bad-concurrency.json',
        JSON.stringify({
          client_agent_id: 'x',
          server_url: server.url,
          auth_token: 'a-token-that-is-long-enough',
          concurrency: 'two',
          mcpServers: { anything: {} },
        }),
      );
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(/bad-concurrency\.json: concurrency: expected an integer/);
    });

    it('a file that is not JSON', () => {
      const run = runWith('not-json.json', '{ "client_agent_id": ');
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(/not-json\.json: \(file\): not valid JSON/);
    });
  });
});
