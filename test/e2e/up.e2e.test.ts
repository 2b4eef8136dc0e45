import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientConfigSchema } from '../../src/protocol/index.ts';
import { freePort, makeTempDir, waitUntil } from '../kit/index.ts';
import { AM_BIN, am, api, killAll, type Proc, spawnProc } from './support/processes.ts';

/**
 * npm forwards SIGTERM to `am up` and ends itself by the signal; `am up` shuts down in order (workers
 * release, server, NATS) and the port is free again when it is done.
 */
async function stopUp(proc: Proc): Promise<void> {
  const url = proc.output().match(/up at (\S+)/)?.[1] ?? 'http://127.0.0.1:1';
  await proc.stop('SIGTERM');
  await waitUntil(async () => !(await portOpen(Number(new URL(url).port))), {
    timeoutMs: 30_000,
    message: 'am up did not let go of its port',
  });
}

/**
 * `am …` with its stdout piped into `true`, which exits before reading anything: the first write gets
 * EPIPE. Resolves with everything the command wrote to stderr, then `am exit: <code>`.
 */
async function withClosedStdout(args: string[], env: Record<string, string | undefined>): Promise<string> {
  const quoted = [process.execPath, AM_BIN, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const proc = spawnProc('bash', ['-c', `${quoted} | true; echo "am exit: \${PIPESTATUS[0]}"`], env);
  await proc.exited;
  return proc.output();
}

/** Whether a process runs (a zombie nobody reaped yet does not: it has exited). Linux /proc. */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** A pid no process has any more. */
async function deadPid(): Promise<number> {
  const proc = spawnProc(process.execPath, ['-e', '']);
  await proc.exited;
  return proc.child.pid ?? 1 << 22;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** `npm start` (= `am up`) on a fresh AM_HOME with no NATS_URL: embedded NATS, server, manager, two workers. */
describe('npm start (am up)', () => {
  let home: string;
  let port: number;
  let up: Proc;
  let url: string;
  const env = () => ({
    AM_HOME: home,
    AM_HTTP_PORT: String(port),
    NATS_URL: undefined,
    AM_ADMIN_TOKEN: undefined,
    AM_URL: undefined,
    AM_TOKEN: undefined,
    AM_LLM_PROVIDER: 'offline',
    AM_RECONCILE_INTERVAL_MS: '200',
  });
  const admin = () => ClientConfigSchema.parse(JSON.parse(readFileSync(join(home, 'admin.json'), 'utf8')));

  beforeAll(async () => {
    home = makeTempDir('am-e2e-up');
    port = await freePort();
    up = spawnProc('npm', ['start', '--silent'], env());
    const [, printed] = await up.waitFor(/AgentManager is up at (\S+)/, 90_000);
    url = printed ?? '';
    await up.waitFor(/Stop with Ctrl-C/, 5_000);
  });

  afterAll(async () => {
    await killAll();
  });

  it('brings the system up: /readyz answers 200 and admin.json holds a working admin token', async () => {
    expect(url).toBe(`http://127.0.0.1:${port}`);
    expect(up.output()).toMatch(/npx am submit ".*" --wait/);
    const ready = await api<{ ready: boolean; nats: string }>(url, admin().auth_token, 'GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ ready: true, nats: 'connected' });
  });

  it('am submit --wait exits 0 when the graph succeeds and prints the final answer', async () => {
    const submit = am(['submit', 'Explain idempotency keys and compute 3*14', '--wait'], env());
    expect(await submit.exited).toBe(0);
    expect(submit.output()).toMatch(/succeeded\. final answer:/);
  });

  it('am submit --wait exits non-zero when the graph fails', async () => {
    const graphFile = join(home, 'bad-graph.json');
    writeFileSync(
      graphFile,
      JSON.stringify({
        goal: 'A graph whose audit never passes',
        tasks: [{ id: 'bad', title: 'Always bad', instructions: 'Produce output [[BAD]]' }],
        options: { maxReworkCycles: 0 },
      }),
    );
    const submit = am(['submit', '--graph', graphFile, '--wait'], env());
    expect(await submit.exited).toBe(2);
    expect(submit.output()).toMatch(/failed: audit_not_passed/);
  });

  it('am agents add w1 --role worker --out FILE, then am worker --config FILE works with no other step', async () => {
    const file = join(home, 'w1.json');
    const add = am(['agents', 'add', 'w1', '--role', 'worker', '--out', file], env());
    expect(await add.exited).toBe(0);
    const config = ClientConfigSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
    expect(config).toMatchObject({ client_agent_id: 'w1', server_url: url });
    const worker = am(['worker', '--config', file], env());
    await worker.waitFor(/worker w1 connected/);
    const code = await worker.stop('SIGTERM');
    expect({ code, output: worker.output() }).toMatchObject({ code: 0 });
    expect(worker.output()).toMatch(/stopped \(claimed \d+/);
  });

  it('the file from am agents add also runs the worker over the embedded NATS (--transport nats)', async () => {
    const file = join(home, 'w2.json');
    const add = am(['agents', 'add', 'w2', '--role', 'worker', '--out', file], env());
    expect(await add.exited).toBe(0);
    const config = ClientConfigSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
    expect(config).toMatchObject({ client_agent_id: 'w2', nats_user: 'am-agent-w2' });
    expect(config.nats_password).toMatch(/^.{16,}$/);
    expect(config.nats_url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
    const worker = am(['worker', '--config', file, '--transport', 'nats'], env());
    await worker.waitFor(/worker w2 connected to NATS/);
    const code = await worker.stop('SIGTERM');
    expect({ code, output: worker.output() }).toMatchObject({ code: 0 });
  });

  it('am agents revoke stops a worker running over NATS within seconds, and its file no longer connects', async () => {
    const file = join(home, 'w4.json');
    expect(await am(['agents', 'add', 'w4', '--role', 'worker', '--out', file], env()).exited).toBe(0);
    const worker = am(['worker', '--config', file, '--transport', 'nats'], env());
    await worker.waitFor(/worker w4 connected to NATS/);
    const revokedAt = Date.now();
    const revoke = am(['agents', 'revoke', 'w4'], env());
    expect(await revoke.exited).toBe(0);
    const code = await Promise.race([
      worker.exited,
      new Promise((r) => setTimeout(() => r('still running'), 10_000)),
    ]);
    expect({ code, output: worker.output() }).toMatchObject({ code: 1 });
    expect(Date.now() - revokedAt).toBeLessThan(10_000);
    expect(worker.output()).toMatch(/refused this agent/);
    const again = am(['worker', '--config', file, '--transport', 'nats'], env());
    expect(await again.exited).not.toBe(0);
    expect(again.output().trim()).toMatch(/^am: .*(AM_ERR_AUTH_REVOKED|refused the credentials)/);
  });

  it('refuses a second am up (and a rebuild on the embedded NATS) on the same AM_HOME before touching a file', async () => {
    const lock = join(home, 'am.lock');
    const owner = Number(readFileSync(lock, 'utf8').trim());
    expect(Number.isInteger(owner) && owner > 0).toBe(true);
    const files = [
      'admin.json',
      'worker-1.json',
      'worker-2.json',
      'nats/nats-server.conf',
      'nats/embedded.json',
      'am.lock',
    ];
    const snapshot = () =>
      files.map((file) => {
        const path = join(home, file);
        return { file, text: readFileSync(path, 'utf8'), mtimeMs: statSync(path).mtimeMs };
      });
    const before = snapshot();
    const attempts = [
      am(['up'], { ...env(), AM_HTTP_PORT: String(await freePort()) }),
      am(['projections', 'rebuild', '--db', join(home, 'rebuilt.sqlite')], env()),
    ];
    for (const proc of attempts) {
      expect(await proc.exited).not.toBe(0);
      const lines = proc.output().trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^am: AM_HOME .* is in use by another AgentManager process \(pid \d+\)/);
      expect(lines[0]).toContain(`AM_HOME ${home} `);
      expect(lines[0]).toContain(`(pid ${owner})`);
    }
    expect(snapshot()).toEqual(before);
    expect(existsSync(join(home, 'rebuilt.sqlite'))).toBe(false);
    expect((await api(url, admin().auth_token, 'GET', '/readyz')).status).toBe(200);
  });

  it('am events for an unknown graph names it in one line and exits non-zero (plain, --json, --follow)', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    for (const flags of [[], ['--json'], ['--follow']]) {
      const proc = am(['events', unknown, ...flags], env());
      const code = await Promise.race([proc.exited, new Promise((r) => setTimeout(() => r('hung'), 20_000))]);
      expect({ flags, code }).toEqual({ flags, code: 1 });
      const lines = proc.output().trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^am: no graph ${unknown} \\(AM_ERR_GRAPH_NOT_FOUND\\)$`));
    }
  });

  it('a closed stdout pipe ends a command quietly with exit 0 (one-shot commands and a worker)', async () => {
    const list = await api<{ graphs: { id: string }[] }>(url, admin().auth_token, 'GET', '/v1/graphs');
    const id = list.body.graphs[0]?.id ?? '';
    expect(id).not.toBe('');
    const commands = [
      ['events', id, '--json'],
      ['events', id],
      ['events', id, '--follow'],
      ['graph', id],
      ['graph', id, '--json'],
      ['agents', 'list'],
      ['worker', '--config', join(home, 'worker-1.json')],
    ];
    for (const args of commands) {
      expect({ args, output: await withClosedStdout(args, env()) }).toEqual({ args, output: 'am exit: 0\n' });
    }
  });

  it('am worker --transport nats says NATS refused the credentials, and "cannot reach" only when it cannot', async () => {
    const file = join(home, 'w3.json');
    const add = am(['agents', 'add', 'w3', '--role', 'worker', '--out', file], env());
    expect(await add.exited).toBe(0);
    const config = ClientConfigSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
    const wrongPassword = join(home, 'w3-wrong-password.json');
    writeFileSync(wrongPassword, JSON.stringify({ ...config, nats_password: 'not-the-password' }));
    const refused = am(['worker', '--config', wrongPassword, '--transport', 'nats'], env());
    expect(await refused.exited).not.toBe(0);
    const line = refused.output().trim();
    expect(line.split('\n')).toHaveLength(1);
    expect(line).toMatch(/^am: NATS at nats:\/\/127\.0\.0\.1:\d+ refused the credentials/);
    expect(line).toContain('nats_user / nats_password');
    expect(line).toContain(wrongPassword);
    expect(line).not.toMatch(/cannot reach/);
    const closed = join(home, 'w3-closed-port.json');
    writeFileSync(closed, JSON.stringify({ ...config, nats_url: `nats://127.0.0.1:${await freePort()}` }));
    const unreachable = am(['worker', '--config', closed, '--transport', 'nats'], env());
    expect(await unreachable.exited).not.toBe(0);
    expect(unreachable.output().trim()).toMatch(/^am: cannot reach NATS at nats:\/\/127\.0\.0\.1:\d+/);
  });

  it('a second start reuses the store: the graphs are still there', async () => {
    const list = await api<{ graphs: { id: string }[] }>(url, admin().auth_token, 'GET', '/v1/graphs');
    expect(list.body.graphs.length).toBeGreaterThanOrEqual(2);
    await stopUp(up);
    up = spawnProc('npm', ['start', '--silent'], env());
    await up.waitFor(/AgentManager is up at/, 90_000);
    const again = await api<{ graphs: { id: string }[] }>(
      url,
      admin().auth_token,
      'GET',
      '/v1/graphs?minSeq=1',
    );
    expect(again.status).toBe(200);
    expect(again.body.graphs.map((g) => g.id).sort()).toEqual(list.body.graphs.map((g) => g.id).sort());
    expect((await api(url, admin().auth_token, 'GET', '/readyz')).status).toBe(200);
    await stopUp(up);
    expect(existsSync(join(home, 'am.lock'))).toBe(false);
  });

  it('takes over a lock whose process is gone, and lets go of it on SIGINT', async () => {
    const lock = join(home, 'am.lock');
    writeFileSync(lock, `${await deadPid()}\n`);
    const again = am(['up'], env());
    await again.waitFor(/Stop with Ctrl-C/, 90_000);
    expect(Number(readFileSync(lock, 'utf8').trim())).toBe(again.child.pid);
    expect(await again.stop('SIGINT')).toBe(0);
    expect(existsSync(lock)).toBe(false);
    // The embedded NATS of a rebuild takes and gives back the same lock.
    writeFileSync(lock, `${await deadPid()}\n`);
    const rebuild = am(['projections', 'rebuild', '--db', join(home, 'rebuilt.sqlite')], env());
    expect({ code: await rebuild.exited, output: rebuild.output() }).toMatchObject({ code: 0 });
    expect(rebuild.output()).toMatch(/rebuilt .*rebuilt\.sqlite: \d+ events/);
    expect(existsSync(lock)).toBe(false);
  });

  it('stops the nats-server a SIGKILLed am up left on the store before starting its own', async () => {
    const own = { ...env(), AM_HOME: makeTempDir('am-e2e-orphan'), AM_HTTP_PORT: String(await freePort()) };
    const first = am(['up'], own);
    await first.waitFor(/Stop with Ctrl-C/, 90_000);
    const pidFile = join(own.AM_HOME, 'nats', 'nats-server.pid');
    const orphan = Number(readFileSync(pidFile, 'utf8').trim());
    expect(isRunning(orphan)).toBe(true);
    // Only am up itself dies: its nats-server (and workers) are left running, as after a crash.
    first.child.kill('SIGKILL');
    await first.exited;
    expect(isRunning(orphan)).toBe(true);
    const second = am(['up'], own);
    await second.waitFor(/Stop with Ctrl-C/, 90_000);
    expect(isRunning(orphan)).toBe(false);
    const successor = Number(readFileSync(pidFile, 'utf8').trim());
    expect(successor).not.toBe(orphan);
    const ownUrl = `http://127.0.0.1:${own.AM_HTTP_PORT}`;
    const token = ClientConfigSchema.parse(JSON.parse(readFileSync(join(own.AM_HOME, 'admin.json'), 'utf8')));
    expect((await api(ownUrl, token.auth_token, 'GET', '/readyz')).status).toBe(200);
    expect(await second.stop('SIGINT')).toBe(0);
    expect(existsSync(pidFile)).toBe(false);
  });
});
