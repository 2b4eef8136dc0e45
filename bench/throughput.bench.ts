/**
 * `npm run bench:throughput`: 20,000 no-op tasks (explicit graphs of 500) claimed and completed through
 * the real worker client, over HTTP and over NATS, in two shapes — one worker process with concurrency 8,
 * and 8 worker processes with concurrency 1 — and BullMQ processing 20,000 no-op jobs in the same two
 * shapes (Redis at REDIS_URL, else a spawned redis-server with appendonly everysec). Prints JSON.
 *
 * Env: BENCH_TASKS (default 20000), NATS_URL (else a private nats-server), REDIS_URL.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import pino from 'pino';
import { v4 as uuidv4 } from 'uuid';
import { startServerRuntime } from '../src/cli/server-runtime.ts';
import { loadConfig } from '../src/config.ts';
import { findFreePort, startNatsServerProcess } from '../src/store/nats-server-process.ts';

const TASKS = Number(process.env.BENCH_TASKS ?? 20_000);
const GRAPH_SIZE = 500;
const SHAPES = [
  { name: '1 process x concurrency 8', processes: 1, concurrency: 8 },
  { name: '8 processes x concurrency 1', processes: 8, concurrency: 1 },
] as const;
/** BENCH_TRANSPORTS=nats (or http) runs one transport only. */
const TRANSPORTS = (process.env.BENCH_TRANSPORTS ?? 'http,nats')
  .split(',')
  .filter((t): t is 'http' | 'nats' => t === 'http' || t === 'nats');
const ROOT = join(import.meta.dirname, '..');

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'am-bench-throughput-'));
  const nats = process.env.NATS_URL ? null : await startNatsServerProcess({ storeDir: join(dir, 'nats') });
  const natsUrl = process.env.NATS_URL ?? nats!.url;
  const suffix = uuidv4().slice(0, 8);
  const adminToken = `bench-admin-${uuidv4()}`;
  const config = loadConfig({
    NATS_URL: natsUrl,
    AM_HOME: dir,
    AM_HTTP_PORT: '0',
    AM_ADMIN_TOKEN: adminToken,
    AM_MANAGER: 'false',
    AM_LOG_LEVEL: 'warn',
    AM_RATE_LIMIT_PER_SEC: '1000000',
    ...(process.env.NATS_URL
      ? { AM_STREAM: `AM_BENCH_${suffix}`, AM_SUBJECT_PREFIX: `bench${suffix}.evt` }
      : {}),
  });
  const server = await startServerRuntime({
    config,
    log: pino({ level: 'warn' }),
    manager: false,
    agents: {
      plan: () => Promise.reject(new Error('no planner in the benchmark')),
      runAudit: () => Promise.reject(new Error('no auditor in the benchmark')),
    },
  });
  const redis = process.env.REDIS_URL ? null : await startRedis(dir);
  const redisUrl = process.env.REDIS_URL ?? redis!.url;
  try {
    const worker = await api<{ token: string }>(server.url, adminToken, 'POST', '/v1/agents', {
      agentId: `bench-${suffix}`,
      role: 'worker',
    });
    const am: Record<string, Record<string, number>> = { http: {}, nats: {} };
    for (const transport of TRANSPORTS) {
      for (const shape of SHAPES) {
        am[transport]![shape.name] = await runAm(server, adminToken, worker.token, natsUrl, transport, shape);
      }
    }
    const bullmq: Record<string, number> = {};
    for (const shape of SHAPES) bullmq[shape.name] = await runBullmq(redisUrl, shape);
    const ratios: Record<string, Record<string, number>> = { http: {}, nats: {} };
    for (const transport of ['http', 'nats'] as const) {
      for (const shape of SHAPES) {
        ratios[transport]![shape.name] = round(am[transport]![shape.name]! / bullmq[shape.name]!, 3);
      }
    }
    const report = {
      benchmark: 'throughput',
      tasks: TASKS,
      graphSize: GRAPH_SIZE,
      nats: process.env.NATS_URL ? 'external' : 'private nats-server',
      redis: process.env.REDIS_URL ? 'external' : 'spawned redis-server (appendonly everysec)',
      tasksPerSec: { am, bullmq },
      ratioAmToBullmq: ratios,
      target: 'AM over NATS >= 0.5x BullMQ in both shapes',
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    await server.stop();
    await nats?.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runAm(
  server: Awaited<ReturnType<typeof startServerRuntime>>,
  adminToken: string,
  workerToken: string,
  natsUrl: string,
  transport: 'http' | 'nats',
  shape: (typeof SHAPES)[number],
): Promise<number> {
  const workers = await spawnAll(shape.processes, 'bench/support/noop-worker.ts', {
    AM_URL: server.url,
    AM_TOKEN: workerToken,
    NATS_URL: natsUrl,
    BENCH_TRANSPORT: transport,
    BENCH_CONCURRENCY: String(shape.concurrency),
  });
  const graphIds: string[] = [];
  const startedAt = performance.now();
  for (let submitted = 0; submitted < TASKS; submitted += GRAPH_SIZE) {
    const size = Math.min(GRAPH_SIZE, TASKS - submitted);
    const tasks = Array.from({ length: size }, (_, i) => ({
      id: `t${i}`,
      title: `no-op ${i}`,
      instructions: 'nothing',
    }));
    const reply = await api<{ graphId: string }>(server.url, adminToken, 'POST', '/v1/tasks', {
      goal: 'throughput',
      tasks,
    });
    graphIds.push(reply.graphId);
  }
  const db = server.node.ctx.readModel.db;
  const placeholders = graphIds.map(() => '?').join(',');
  const completed = db.prepare(
    `SELECT COUNT(*) AS n FROM tasks WHERE kind = 'work' AND status = 'COMPLETED' AND graph_id IN (${placeholders})`,
  );
  while ((completed.get(...graphIds) as { n: number }).n < TASKS) await sleep(20);
  const rate = round(TASKS / ((performance.now() - startedAt) / 1000), 0);
  await stopAll(workers);
  process.stderr.write(`am ${transport} ${shape.name}: ${rate} tasks/s\n`);
  return rate;
}

async function runBullmq(redisUrl: string, shape: (typeof SHAPES)[number]): Promise<number> {
  const name = `bench-${uuidv4().slice(0, 8)}`;
  const queue = new Queue(name, { connection: { url: redisUrl } });
  const workers = await spawnAll(shape.processes, 'bench/support/bullmq-worker.ts', {
    REDIS_URL: redisUrl,
    BENCH_QUEUE: name,
    BENCH_CONCURRENCY: String(shape.concurrency),
  });
  const startedAt = performance.now();
  for (let added = 0; added < TASKS; added += 1_000) {
    const size = Math.min(1_000, TASKS - added);
    await queue.addBulk(Array.from({ length: size }, (_, i) => ({ name: 'noop', data: { i: added + i } })));
  }
  while ((await queue.getCompletedCount()) < TASKS) await sleep(20);
  const rate = round(TASKS / ((performance.now() - startedAt) / 1000), 0);
  await stopAll(workers);
  process.stderr.write(`bullmq ${shape.name}: ${rate} jobs/s\n`);
  await queue.obliterate({ force: true });
  await queue.close();
  return rate;
}

async function spawnAll(count: number, script: string, env: Record<string, string>): Promise<ChildProcess[]> {
  const children = Array.from({ length: count }, () =>
    spawn(process.execPath, ['--import', 'tsx', join(ROOT, script)], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  await Promise.all(children.map((child) => waitForLine(child, 'ready')));
  return children;
}

async function stopAll(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    }),
  );
}

function waitForLine(child: ChildProcess, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      if (buffer.split('\n').includes(line)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`${line} never came; exit ${code}`)));
  });
}

async function startRedis(dir: string): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await findFreePort();
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--dir',
      dir,
      '--save',
      '',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited ${code}`)));
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

async function api<T>(base: string, token: string, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

await main();
