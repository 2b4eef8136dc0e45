import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientConfigSchema } from '../../src/protocol/index.ts';
import { freePort, makeTempDir, waitUntil } from '../kit/index.ts';
import { am, api, killAll, type Proc, spawnProc } from './support/processes.ts';

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
    expect(config).toMatchObject({ client_agent_id: 'w2', nats_user: 'am-worker' });
    expect(config.nats_url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
    const worker = am(['worker', '--config', file, '--transport', 'nats'], env());
    await worker.waitFor(/worker w2 connected to NATS/);
    const code = await worker.stop('SIGTERM');
    expect({ code, output: worker.output() }).toMatchObject({ code: 0 });
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
  });
});
