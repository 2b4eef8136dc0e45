/**
 * `npm run bench:memory`: the AM server's resident memory after BENCH_TASKS (100,000) no-op tasks, and
 * whether it stays flat under steady load for BENCH_SOAK_MS (10 minutes). Goal: RSS after 100,000 tasks
 * ≤ 250 MB, and flat in the soak (least-squares slope over its second half ≤ 1 MB/min and its last
 * sample ≤ its first + 10%).
 *
 * The server runs as a process of its own (`am server` from a fresh build with --max-semi-space-size=4 as deploy/Dockerfile and `npm start` run it, manager off) on a private nats-server,
 * so its RSS is only its own; one worker process (concurrency 8, over NATS) completes the tasks, which
 * are submitted in explicit graphs of 500 with at most BENCH_OPEN_GRAPHS (4) unfinished at once.
 * Completions are counted from the server's /metrics (`am_task_results_total`), polled twice a second.
 * BullMQ's figure for the same work: redis-server's RSS plus one BullMQ worker process's after 100,000
 * jobs (completed jobs kept, BullMQ's default).
 *
 * Env: BENCH_TASKS (100000), BENCH_SOAK_MS (600000), BENCH_SOAK_INTERVAL_MS (2000: one graph of 500 per
 * interval), BENCH_OPEN_GRAPHS (4), BENCH_BULLMQ=0 skips BullMQ, BENCH_HEAP_SNAPSHOT=1 (or RSS over the
 * goal) writes a heap snapshot of the server after the soak and prints its largest constructors.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { v4 as uuidv4 } from 'uuid';
import { startNatsServerProcess } from '../src/store/nats-server-process.ts';
import {
  api,
  type HeadlineRow,
  printReport,
  processRssMb,
  round,
  spawnAll,
  startRedis,
  stopAll,
} from './support/bench-kit.ts';
import { summarizeHeapSnapshot } from './support/memory-heap-summary.ts';
import { type ServerProcess, startServerProcess } from './support/memory-server-process.ts';

const TASKS = Number(process.env.BENCH_TASKS ?? 100_000);
const SOAK_MS = Number(process.env.BENCH_SOAK_MS ?? 600_000);
const SOAK_INTERVAL_MS = Number(process.env.BENCH_SOAK_INTERVAL_MS ?? 2_000);
const MAX_OPEN_GRAPHS = Number(process.env.BENCH_OPEN_GRAPHS ?? 4);
const WITH_BULLMQ = process.env.BENCH_BULLMQ !== '0';
const GRAPH_SIZE = 500;
const RSS_GOAL_MB = 250;
const SAMPLE_EVERY_MS = 5_000;
const FLAT_SLOPE_MB_PER_MIN = 1;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'am-bench-memory-'));
  const nats = await startNatsServerProcess({ storeDir: join(dir, 'nats') });
  const adminToken = `bench-admin-${uuidv4()}`;
  let server: ServerProcess | null = null;
  try {
    server = await startServerProcess({ natsUrl: nats.url, home: join(dir, 'am'), adminToken });
    const rssAtStartMb = processRssMb(server.pid);
    process.stderr.write(`memory: server pid ${server.pid} ready, RSS ${rssAtStartMb} MB\n`);
    const { token } = await api<{ token: string }>(server.url, adminToken, 'POST', '/v1/agents', {
      agentId: `bench-${uuidv4().slice(0, 8)}`,
      role: 'worker',
    });
    const workers = await spawnAll(1, 'bench/support/noop-worker.ts', {
      AM_URL: server.url,
      AM_TOKEN: token,
      NATS_URL: nats.url,
      BENCH_TRANSPORT: 'nats',
      BENCH_CONCURRENCY: '8',
    });
    const load = new Load(server.url, adminToken);
    let phase1: Record<string, unknown>;
    let soak: SoakFigures;
    try {
      phase1 = await runPhase1(server, load, rssAtStartMb);
      soak = await runSoak(server, load);
      // Last: writing a snapshot grows the server's RSS by about its heap's size for good.
      if (process.env.BENCH_HEAP_SNAPSHOT === '1' || (phase1.rssAfterPauseMb as number) > RSS_GOAL_MB) {
        phase1.heapAfterSoak = await heapFindings(server);
      }
    } finally {
      await stopAll(workers);
    }
    const bullmq = WITH_BULLMQ ? await runBullmq(dir) : null;
    const rssAfter = phase1.rssAfterPauseMb as number;
    const headline: HeadlineRow[] = [
      {
        figure: `Server RSS after ${TASKS.toLocaleString('en-US')} tasks`,
        value: rssAfter,
        unit: 'MB',
        goal: `≤ ${RSS_GOAL_MB} MB`,
        met: rssAfter <= RSS_GOAL_MB,
        bullmq: bullmq?.totalMb ?? null,
      },
      {
        figure: `RSS growth in a ${round(SOAK_MS / 60_000, 1)}-min soak`,
        value: soak.slopeMbPerMin,
        unit: 'MB/min',
        goal: 'flat',
        met: soak.flat,
        bullmq: null,
      },
    ];
    printReport({
      benchmark: 'memory',
      headline,
      tasks: TASKS,
      graphSize: GRAPH_SIZE,
      maxOpenGraphs: MAX_OPEN_GRAPHS,
      server:
        'am server (dist/, node --max-semi-space-size=4 as deployed, manager off), its own process; 1 worker process x 8 over NATS',
      phase1,
      soak,
      bullmq: bullmq ?? 'skipped',
    });
  } finally {
    await server?.stop();
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Submits graphs of 500 while at most MAX_OPEN_GRAPHS graphs' worth of tasks are unfinished. */
class Load {
  submitted = 0;
  completed = 0;
  constructor(
    private readonly url: string,
    private readonly adminToken: string,
  ) {}

  get open(): number {
    return this.submitted - this.completed;
  }

  async submitGraph(size = GRAPH_SIZE): Promise<void> {
    const tasks = Array.from({ length: size }, (_, i) => ({
      id: `t${i}`,
      title: `no-op ${i}`,
      instructions: 'nothing',
    }));
    await api(this.url, this.adminToken, 'POST', '/v1/tasks', { goal: 'memory', tasks });
    this.submitted += size;
  }

  async refresh(): Promise<Metrics> {
    const metrics = await readMetrics(this.url, this.adminToken);
    this.completed = metrics.completed;
    return metrics;
  }
}

async function runPhase1(server: ServerProcess, load: Load, rssAtStartMb: number) {
  const startedAt = performance.now();
  let peakMb = rssAtStartMb;
  let lastSample = 0;
  while (load.completed < TASKS) {
    while (load.submitted < TASKS && load.open < MAX_OPEN_GRAPHS * GRAPH_SIZE) {
      await load.submitGraph(Math.min(GRAPH_SIZE, TASKS - load.submitted));
    }
    await sleep(500);
    await load.refresh();
    peakMb = Math.max(peakMb, processRssMb(server.pid));
    if (performance.now() - lastSample >= SAMPLE_EVERY_MS) {
      lastSample = performance.now();
      process.stderr.write(
        `memory: ${load.completed}/${TASKS} completed, RSS ${processRssMb(server.pid)} MB\n`,
      );
    }
  }
  const seconds = (performance.now() - startedAt) / 1000;
  const rssAtEndMb = processRssMb(server.pid);
  const atEnd = await load.refresh();
  await sleep(5_000);
  const rssAfterPauseMb = processRssMb(server.pid);
  const afterPause = await load.refresh();
  process.stderr.write(
    `memory: ${TASKS} tasks in ${round(seconds, 1)} s; RSS ${rssAtEndMb} MB, after 5 s ${rssAfterPauseMb} MB, heap used ${afterPause.heapUsedMb} MB\n`,
  );
  return {
    seconds: round(seconds, 1),
    tasksPerSec: round(TASKS / seconds, 0),
    rssAtStartMb,
    peakRssMb: peakMb,
    rssAtEndMb,
    rssAfterPauseMb,
    heapUsedAtEndMb: atEnd.heapUsedMb,
    heapUsedAfterPauseMb: afterPause.heapUsedMb,
    heapTotalAfterPauseMb: afterPause.heapTotalMb,
    externalAfterPauseMb: afterPause.externalMb,
  };
}

interface SoakFigures {
  ms: number;
  tasksSubmitted: number;
  intervalsSkipped: number;
  samples: Array<{ atSec: number; rssMb: number }>;
  firstMb: number;
  lastMb: number;
  maxMb: number;
  slopeMbPerMin: number;
  flat: boolean;
  heapUsedAtEndMb: number;
}

/** One graph per interval (skipped while the backlog is full), RSS every 5 s. */
async function runSoak(server: ServerProcess, load: Load): Promise<SoakFigures> {
  const startedAt = performance.now();
  const submittedBefore = load.submitted;
  const samples: Array<{ atSec: number; rssMb: number }> = [];
  let nextSubmit = 0;
  let nextSample = 0;
  let skipped = 0;
  while (performance.now() - startedAt < SOAK_MS) {
    const elapsed = performance.now() - startedAt;
    if (elapsed >= nextSample) {
      samples.push({ atSec: round(elapsed / 1000, 1), rssMb: processRssMb(server.pid) });
      nextSample += SAMPLE_EVERY_MS;
    }
    if (elapsed >= nextSubmit) {
      await load.refresh();
      if (load.open < MAX_OPEN_GRAPHS * GRAPH_SIZE) await load.submitGraph();
      else skipped += 1;
      nextSubmit += SOAK_INTERVAL_MS;
    }
    await sleep(Math.max(10, Math.min(nextSample, nextSubmit) - (performance.now() - startedAt)));
  }
  samples.push({ atSec: round((performance.now() - startedAt) / 1000, 1), rssMb: processRssMb(server.pid) });
  const rss = samples.map((sample) => sample.rssMb);
  const secondHalf = samples.slice(Math.floor(samples.length / 2));
  const slopeMbPerMin = round(slopePerSecond(secondHalf) * 60, 2);
  const firstMb = rss[0] ?? Number.NaN;
  const lastMb = rss.at(-1) ?? Number.NaN;
  const metrics = await load.refresh();
  const soak: SoakFigures = {
    ms: SOAK_MS,
    tasksSubmitted: load.submitted - submittedBefore,
    intervalsSkipped: skipped,
    samples,
    firstMb,
    lastMb,
    maxMb: Math.max(...rss),
    slopeMbPerMin,
    flat: slopeMbPerMin <= FLAT_SLOPE_MB_PER_MIN && lastMb <= firstMb * 1.1,
    heapUsedAtEndMb: metrics.heapUsedMb,
  };
  process.stderr.write(
    `memory: soak first ${firstMb} MB, last ${lastMb} MB, max ${soak.maxMb} MB, slope ${slopeMbPerMin} MB/min (second half)\n`,
  );
  return soak;
}

/** Least-squares slope of RSS against time, MB per second. */
function slopePerSecond(samples: ReadonlyArray<{ atSec: number; rssMb: number }>): number {
  if (samples.length < 2) return 0;
  const n = samples.length;
  const meanX = samples.reduce((sum, s) => sum + s.atSec, 0) / n;
  const meanY = samples.reduce((sum, s) => sum + s.rssMb, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const s of samples) {
    covariance += (s.atSec - meanX) * (s.rssMb - meanY);
    variance += (s.atSec - meanX) ** 2;
  }
  return variance === 0 ? 0 : covariance / variance;
}

async function heapFindings(server: ServerProcess) {
  process.stderr.write('memory: writing a heap snapshot of the server\n');
  const path = await server.heapSnapshot();
  const summary = summarizeHeapSnapshot(path, 15);
  for (const row of summary.byConstructor) {
    process.stderr.write(
      `  ${String(row.selfMb).padStart(8)} MB  ${String(row.count).padStart(9)}  ${row.name}\n`,
    );
  }
  return summary;
}

interface Metrics {
  completed: number;
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
}

async function readMetrics(url: string, token: string): Promise<Metrics> {
  const response = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  const text = await response.text();
  if (!response.ok) throw new Error(`GET /metrics: ${response.status} ${text}`);
  const sample = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN);
  const mb = (bytes: number) => round(bytes / 1024 / 1024, 1);
  return {
    completed: sample(/^am_task_results_total\{[^}]*status="completed"[^}]*\} (\d+)/m) || 0,
    heapUsedMb: mb(sample(/^am_nodejs_heap_size_used_bytes (\d+)/m)),
    heapTotalMb: mb(sample(/^am_nodejs_heap_size_total_bytes (\d+)/m)),
    externalMb: mb(sample(/^am_nodejs_external_memory_bytes (\d+)/m)),
  };
}

/** redis-server's RSS plus one BullMQ worker process's after TASKS no-op jobs, completed jobs kept. */
async function runBullmq(dir: string) {
  const redis = await startRedis(dir);
  const name = `bench-memory-${uuidv4().slice(0, 8)}`;
  const queue = new Queue(name, { connection: { url: redis.url } });
  const workers = await spawnAll(1, 'bench/support/bullmq-worker.ts', {
    REDIS_URL: redis.url,
    BENCH_QUEUE: name,
    BENCH_CONCURRENCY: '8',
  });
  const workerPid = workers[0]?.pid as number;
  try {
    const redisAtStartMb = redis.pid === undefined ? Number.NaN : processRssMb(redis.pid);
    for (let added = 0; added < TASKS; added += 1_000) {
      const size = Math.min(1_000, TASKS - added);
      await queue.addBulk(Array.from({ length: size }, (_, i) => ({ name: 'noop', data: { i: added + i } })));
      // The same bounded backlog as AM's: jobs waiting in Redis would count against it otherwise.
      while (added + size - (await queue.getCompletedCount()) > MAX_OPEN_GRAPHS * GRAPH_SIZE)
        await sleep(100);
    }
    while ((await queue.getCompletedCount()) < TASKS) await sleep(200);
    await sleep(5_000);
    const redisMb = redis.pid === undefined ? Number.NaN : processRssMb(redis.pid);
    const workerMb = processRssMb(workerPid);
    process.stderr.write(`bullmq: redis-server ${redisMb} MB + worker ${workerMb} MB after ${TASKS} jobs\n`);
    return { redisAtStartMb, redisMb, workerMb, totalMb: round(redisMb + workerMb, 1) };
  } finally {
    await stopAll(workers);
    await queue.close();
    await redis.stop();
  }
}

await main();
