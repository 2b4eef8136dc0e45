/**
 * `npm run bench:throughput`: 20,000 no-op tasks (explicit graphs of 500) claimed and completed through
 * the real worker client, over HTTP and over NATS, in two shapes — one worker process with concurrency 8,
 * and 8 worker processes with concurrency 1 — and BullMQ processing 20,000 no-op jobs in the same two
 * shapes (Redis at REDIS_URL, else a spawned redis-server with appendonly everysec). Prints JSON.
 *
 * Besides tasks/s it reports the CPU each side spent per task (ms): AM server, nats-server and the
 * worker processes; BullMQ's workers and redis-server. CPU per task is steadier than tasks/s on a
 * shared machine and says where the time goes.
 *
 * Env: BENCH_TASKS (default 20000), BENCH_TRANSPORTS (http,nats), BENCH_SHAPES (1x8,8x1),
 * BENCH_RUNS (default 2: alternating runs per side; `ratioAmToBullmq` compares each side's fastest,
 * `ratioPerRun` each AM run with the BullMQ run right after it, and `ratioMedianOfRuns` is their
 * median, the figure least moved by the machine's drift), BENCH_BULLMQ=0 skips BullMQ,
 * NATS_URL (else a private nats-server), REDIS_URL.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import pino from 'pino';
import { v4 as uuidv4 } from 'uuid';
import { startServerRuntime } from '../src/cli/server-runtime.ts';
import { loadConfig } from '../src/config.ts';
import { defaultGoMaxProcs, findFreePort, startNatsServerProcess } from '../src/store/nats-server-process.ts';

const TASKS = Number(process.env.BENCH_TASKS ?? 20_000);
const GRAPH_SIZE = 500;
const ALL_SHAPES = [
  { key: '1x8', name: '1 process x concurrency 8', processes: 1, concurrency: 8 },
  { key: '8x1', name: '8 processes x concurrency 1', processes: 8, concurrency: 1 },
] as const;
type Shape = (typeof ALL_SHAPES)[number];
const SHAPE_KEYS = (process.env.BENCH_SHAPES ?? '1x8,8x1').split(',');
const SHAPES = ALL_SHAPES.filter((shape) => SHAPE_KEYS.includes(shape.key));
const WITH_BULLMQ = process.env.BENCH_BULLMQ !== '0';
/** Runs per side (alternating); the fastest counts. */
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 2));
/** BENCH_TRANSPORTS=nats (or http) runs one transport only. */
const TRANSPORTS = (process.env.BENCH_TRANSPORTS ?? 'http,nats')
  .split(',')
  .filter((t): t is 'http' | 'nats' => t === 'http' || t === 'nats');
const ROOT = join(import.meta.dirname, '..');

interface RunFigures {
  tasksPerSec: number;
  /** Events per projector transaction (AM only). */
  eventsPerCommit?: number;
  /** CPU milliseconds per task, by process kind. */
  cpuMsPerTask: Record<string, number>;
}

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
  await server.ready;
  const redis = !WITH_BULLMQ || process.env.REDIS_URL ? null : await startRedis(dir);
  const redisUrl = process.env.REDIS_URL ?? redis?.url ?? '';
  try {
    const worker = await api<{ token: string }>(server.url, adminToken, 'POST', '/v1/agents', {
      agentId: `bench-${suffix}`,
      role: 'worker',
    });
    // Each side runs RUNS times, alternating, and its fastest run counts: this 2-core machine's speed
    // drifts by 10-20% within minutes, and both sides get the same treatment.
    const am: Record<string, Record<string, RunFigures>> = {};
    const bullmq: Record<string, RunFigures> = {};
    const faster = (a: RunFigures | undefined, b: RunFigures) =>
      a === undefined || b.tasksPerSec > a.tasksPerSec ? b : a;
    // Every run's rate too: a run of one side and the next of the other are minutes apart at most, so
    // their ratio is the estimate least moved by the drift; fastest-vs-fastest can pair two moments.
    const amRates: Record<string, Record<string, number[]>> = {};
    const bullmqRates: Record<string, number[]> = {};
    const record = (rates: Record<string, number[]>, key: string, rate: number) => {
      rates[key] = [...(rates[key] ?? []), rate];
    };
    for (let run = 1; run <= RUNS; run++) {
      for (const shape of SHAPES) {
        for (const transport of TRANSPORTS) {
          const byShape = am[transport] ?? {};
          am[transport] = byShape;
          const figures = await runAm(server, adminToken, worker.token, natsUrl, transport, shape, nats?.pid);
          byShape[shape.name] = faster(byShape[shape.name], figures);
          amRates[transport] ??= {};
          record(amRates[transport], shape.name, figures.tasksPerSec);
        }
        if (WITH_BULLMQ) {
          const figures = await runBullmq(redisUrl, shape, redis?.pid);
          bullmq[shape.name] = faster(bullmq[shape.name], figures);
          record(bullmqRates, shape.name, figures.tasksPerSec);
        }
      }
    }
    const ratioPerRun: Record<string, Record<string, number[]>> = {};
    const ratioMedianOfRuns: Record<string, Record<string, number>> = {};
    for (const transport of TRANSPORTS) {
      ratioPerRun[transport] = {};
      ratioMedianOfRuns[transport] = {};
      for (const shape of SHAPES) {
        const theirs = bullmqRates[shape.name] ?? [];
        const perRun = (amRates[transport]?.[shape.name] ?? [])
          .map((ours, i) => (theirs[i] === undefined ? Number.NaN : round(ours / theirs[i], 3)))
          .filter((ratio) => !Number.isNaN(ratio));
        if (perRun.length === 0) continue;
        ratioPerRun[transport][shape.name] = perRun;
        ratioMedianOfRuns[transport][shape.name] = median(perRun);
      }
    }
    const ratios: Record<string, Record<string, number>> = {};
    for (const transport of TRANSPORTS) {
      ratios[transport] = {};
      for (const shape of SHAPES) {
        const theirs = bullmq[shape.name]?.tasksPerSec;
        const ours = am[transport]?.[shape.name]?.tasksPerSec;
        if (theirs !== undefined && ours !== undefined)
          ratios[transport][shape.name] = round(ours / theirs, 3);
      }
    }
    const report = {
      benchmark: 'throughput',
      tasks: TASKS,
      graphSize: GRAPH_SIZE,
      runsPerSide: RUNS,
      nats: process.env.NATS_URL ? 'external' : `private nats-server (GOMAXPROCS=${defaultGoMaxProcs()})`,
      redis: !WITH_BULLMQ
        ? 'skipped'
        : process.env.REDIS_URL
          ? 'external'
          : 'spawned redis-server (appendonly everysec)',
      tasksPerSec: {
        am: mapValues(am, (byShape) => mapValues(byShape, (f) => f.tasksPerSec)),
        bullmq: mapValues(bullmq, (f) => f.tasksPerSec),
      },
      eventsPerProjectorCommit: mapValues(am, (byShape) => mapValues(byShape, (f) => f.eventsPerCommit)),
      cpuMsPerTask: {
        am: mapValues(am, (byShape) => mapValues(byShape, (f) => f.cpuMsPerTask)),
        bullmq: mapValues(bullmq, (f) => f.cpuMsPerTask),
      },
      ratioAmToBullmq: ratios,
      ratioPerRun,
      ratioMedianOfRuns,
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
  shape: Shape,
  natsPid: number | undefined,
): Promise<RunFigures> {
  const workers = await spawnAll(shape.processes, 'bench/support/noop-worker.ts', {
    AM_URL: server.url,
    AM_TOKEN: workerToken,
    NATS_URL: natsUrl,
    BENCH_TRANSPORT: transport,
    BENCH_CONCURRENCY: String(shape.concurrency),
  });
  // Counted from the projector's batches: polling SQL for it would load the server being measured.
  let completed = 0;
  let commits = 0;
  let events = 0;
  let finished: () => void = () => {};
  const allDone = new Promise<void>((resolve) => {
    finished = resolve;
  });
  const stopCounting = server.node.ctx.projector.onApplied((batch) => {
    commits += 1;
    events += batch.events.length;
    for (const { event } of batch.events) if (event.type === 'TaskCompleted') completed += 1;
    if (completed >= TASKS) finished();
  });
  const serverCpu = process.cpuUsage();
  const natsCpu = natsPid === undefined ? null : processCpuMs(natsPid);
  const startedAt = performance.now();
  for (let submitted = 0; submitted < TASKS; submitted += GRAPH_SIZE) {
    const size = Math.min(GRAPH_SIZE, TASKS - submitted);
    const tasks = Array.from({ length: size }, (_, i) => ({
      id: `t${i}`,
      title: `no-op ${i}`,
      instructions: 'nothing',
    }));
    await api<{ graphId: string }>(server.url, adminToken, 'POST', '/v1/tasks', {
      goal: 'throughput',
      tasks,
    });
  }
  await allDone;
  const seconds = (performance.now() - startedAt) / 1000;
  const serverMs = cpuMs(process.cpuUsage(serverCpu));
  const natsMs = natsPid === undefined || natsCpu === null ? null : processCpuMs(natsPid) - natsCpu;
  stopCounting();
  const workerMs = await stopAll(workers);
  const rate = round(TASKS / seconds, 0);
  const cpuMsPerTask: Record<string, number> = {
    amServer: round(serverMs / TASKS, 3),
    workers: round(workerMs / TASKS, 3),
  };
  if (natsMs !== null) cpuMsPerTask.natsServer = round(natsMs / TASKS, 3);
  process.stderr.write(
    `am ${transport} ${shape.name}: ${rate} tasks/s, cpu ms/task ${JSON.stringify(cpuMsPerTask)}\n`,
  );
  return { tasksPerSec: rate, eventsPerCommit: round(events / Math.max(1, commits), 2), cpuMsPerTask };
}

async function runBullmq(redisUrl: string, shape: Shape, redisPid: number | undefined): Promise<RunFigures> {
  const name = `bench-${uuidv4().slice(0, 8)}`;
  const queue = new Queue(name, { connection: { url: redisUrl } });
  const workers = await spawnAll(shape.processes, 'bench/support/bullmq-worker.ts', {
    REDIS_URL: redisUrl,
    BENCH_QUEUE: name,
    BENCH_CONCURRENCY: String(shape.concurrency),
  });
  const redisCpu = redisPid === undefined ? null : processCpuMs(redisPid);
  const startedAt = performance.now();
  for (let added = 0; added < TASKS; added += 1_000) {
    const size = Math.min(1_000, TASKS - added);
    await queue.addBulk(Array.from({ length: size }, (_, i) => ({ name: 'noop', data: { i: added + i } })));
  }
  while ((await queue.getCompletedCount()) < TASKS) await sleep(20);
  const seconds = (performance.now() - startedAt) / 1000;
  const redisMs = redisPid === undefined || redisCpu === null ? null : processCpuMs(redisPid) - redisCpu;
  const workerMs = await stopAll(workers);
  const rate = round(TASKS / seconds, 0);
  const cpuMsPerTask: Record<string, number> = { workers: round(workerMs / TASKS, 3) };
  if (redisMs !== null) cpuMsPerTask.redisServer = round(redisMs / TASKS, 3);
  process.stderr.write(`bullmq ${shape.name}: ${rate} jobs/s, cpu ms/job ${JSON.stringify(cpuMsPerTask)}\n`);
  await queue.obliterate({ force: true });
  await queue.close();
  return { tasksPerSec: rate, cpuMsPerTask };
}

/** CPU (user + system) a process has used so far, from /proc (Linux; clock ticks of 10 ms). */
function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

function cpuMs(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000;
}

function mapValues<T, U>(record: Record<string, T>, fn: (value: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, fn(value)]));
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

/** Stops the workers; resolves with the CPU milliseconds they reported using while running. */
async function stopAll(children: ChildProcess[]): Promise<number> {
  const reported = await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null) return 0;
      let output = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.kill('SIGTERM');
      await once(child, 'exit');
      const match = /^cpu ([\d.]+)$/m.exec(output);
      return match ? Number(match[1]) : Number.NaN;
    }),
  );
  return reported.reduce((sum, ms) => sum + ms, 0);
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

async function startRedis(
  dir: string,
): Promise<{ url: string; pid: number | undefined; stop(): Promise<void> }> {
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
    pid: child.pid,
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

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? 0)
    : round(((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2, 3);
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

await main();
