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
 * BENCH_RUNS (default 2: alternating runs per side; `tasksPerSec` is each side's fastest run,
 * `ratioPerRun` each AM run ÷ the BullMQ run right after it, and `ratioMedianOfRuns` their median, the
 * figure least moved by the machine's drift: the headline's goals are read on it), BENCH_BULLMQ=0 skips BullMQ,
 * NATS_URL (else a private nats-server), REDIS_URL.
 */
import { Queue } from 'bullmq';
import { defaultGoMaxProcs } from '../src/store/nats-server-process.ts';
import {
  addWorkerAgent,
  api,
  type BenchStack,
  cpuMs,
  type HeadlineRow,
  mapValues,
  median,
  printReport,
  processCpuMs,
  round,
  spawnAll,
  startBenchStack,
  startRedis,
  stopAll,
} from './support/bench-kit.ts';

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
/** The issue's goals: AM's rate ÷ BullMQ's in the same shape. */
const GOALS = { nats: 1.0, http: 0.6 } as const;
/** Runs per side (alternating); the fastest counts. */
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 2));
/** BENCH_TRANSPORTS=nats (or http) runs one transport only. */
const TRANSPORTS = (process.env.BENCH_TRANSPORTS ?? 'http,nats')
  .split(',')
  .filter((t): t is 'http' | 'nats' => t === 'http' || t === 'nats');

interface RunFigures {
  tasksPerSec: number;
  /** Events per projector transaction (AM only). */
  eventsPerCommit?: number;
  /** CPU milliseconds per task, by process kind. */
  cpuMsPerTask: Record<string, number>;
}

async function main(): Promise<void> {
  const stack = await startBenchStack('throughput');
  const redis = WITH_BULLMQ ? await startRedis(stack.dir) : null;
  try {
    const workerToken = await addWorkerAgent(stack, `bench-${stack.suffix}`);
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
          const figures = await runAm(stack, workerToken, transport, shape);
          byShape[shape.name] = faster(byShape[shape.name], figures);
          amRates[transport] ??= {};
          record(amRates[transport], shape.name, figures.tasksPerSec);
        }
        if (redis) {
          const figures = await runBullmq(redis.url, shape, redis.pid);
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
    const headline: HeadlineRow[] = [];
    for (const transport of TRANSPORTS) {
      const goal = GOALS[transport];
      for (const shape of SHAPES) {
        const ours = am[transport]?.[shape.name]?.tasksPerSec;
        if (ours === undefined) continue;
        const ratio = ratioMedianOfRuns[transport]?.[shape.name];
        headline.push({
          figure: `Throughput over ${transport.toUpperCase()}, ${shape.name} (no-op tasks)`,
          value: ours,
          unit: 'tasks/s',
          goal: `≥ ${goal.toFixed(1)}× BullMQ${ratio === undefined ? '' : ` (got ${ratio.toFixed(2)}×)`}`,
          met: ratio === undefined ? null : ratio >= goal,
          bullmq: bullmq[shape.name]?.tasksPerSec ?? null,
        });
      }
    }
    printReport({
      benchmark: 'throughput',
      headline,
      tasks: TASKS,
      graphSize: GRAPH_SIZE,
      runsPerSide: RUNS,
      nats: process.env.NATS_URL ? 'external' : `private nats-server (GOMAXPROCS=${defaultGoMaxProcs()})`,
      redis: !redis
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
      ratioPerRun,
      ratioMedianOfRuns,
      ratioNote:
        'each AM run is paired with the BullMQ run right after it; the goal is read on the median pair',
    });
  } finally {
    await stack.stop();
    await redis?.stop();
  }
}

async function runAm(
  stack: BenchStack,
  workerToken: string,
  transport: 'http' | 'nats',
  shape: Shape,
): Promise<RunFigures> {
  const { server, adminToken, natsUrl } = stack;
  const natsPid = stack.nats?.pid;
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
  const name = `bench-${Math.random().toString(36).slice(2, 10)}`;
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
  while ((await queue.getCompletedCount()) < TASKS) await new Promise((resolve) => setTimeout(resolve, 20));
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

await main();
