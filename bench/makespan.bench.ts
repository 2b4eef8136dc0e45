/**
 * `npm run bench:makespan`: how close AM comes to the ideal schedule of a DAG. Random layered DAGs of
 * 200 tasks (5-50 ms each; `sleep <ms>` in the instructions, slept by bench/support/sleep-worker.ts)
 * run with enough worker slots that the DAG's width never limits, so the only lower bound is the
 * critical path (the longest chain of durations). Makespan: from the POST /v1/tasks acknowledgement to
 * the graph's last TaskCompleted applied by the server's projector. Over NATS and HTTP, and BullMQ
 * running the same DAGs with the same slots (bench/support/bullmq-dag-driver.ts: BullMQ has no DAGs).
 *
 * Each side first runs one warm-up DAG (not timed): the first graph pays for JIT and connection setup.
 *
 * Env: BENCH_SEED (1), BENCH_DAGS (5), BENCH_DAG_TASKS (200), BENCH_DAG_LAYERS (20), BENCH_PROCESSES (4),
 * BENCH_CONCURRENCY (per process; default enough for 64 slots or the widest DAG's ideal width),
 * BENCH_TRANSPORTS (nats,http), BENCH_BULLMQ=0 skips BullMQ, BENCH_BULLMQ_RELEASES (worker,driver: who
 * adds a BullMQ job once its dependencies completed; the headline takes the lower median), NATS_URL,
 * REDIS_URL.
 */
import { defaultGoMaxProcs } from '../src/store/nats-server-process.ts';
import {
  addWorkerAgent,
  api,
  type BenchStack,
  type HeadlineRow,
  median,
  printReport,
  round,
  spawnAll,
  startBenchStack,
  startRedis,
  stopAll,
} from './support/bench-kit.ts';
import { type BullmqRelease, runBullmqDags } from './support/bullmq-dag-driver.ts';
import { type Dag, randomLayeredDag, seededRandom } from './support/makespan-dag.ts';

const SEED = Number(process.env.BENCH_SEED ?? 1);
const DAGS = Number(process.env.BENCH_DAGS ?? 5);
const DAG_TASKS = Number(process.env.BENCH_DAG_TASKS ?? 200);
const DAG_LAYERS = Number(process.env.BENCH_DAG_LAYERS ?? 20);
const MIN_MS = 5;
const MAX_MS = 50;
const PROCESSES = Number(process.env.BENCH_PROCESSES ?? 4);
const TRANSPORTS = (process.env.BENCH_TRANSPORTS ?? 'nats,http')
  .split(',')
  .filter((t): t is 'http' | 'nats' => t === 'http' || t === 'nats');
const WITH_BULLMQ = process.env.BENCH_BULLMQ !== '0';
const BULLMQ_RELEASES = (process.env.BENCH_BULLMQ_RELEASES ?? 'worker,driver')
  .split(',')
  .filter((r): r is BullmqRelease => r === 'worker' || r === 'driver');
const GOAL_RATIO = 1.1;
const DAG_TIMEOUT_MS = 60_000;

interface DagFigures {
  makespanMs: number;
  criticalPathMs: number;
  ratio: number;
  /** (makespan - critical path) / tasks on the critical path: the cost of each hop of the chain. */
  overheadMsPerCriticalTask: number;
}

async function main(): Promise<void> {
  const random = seededRandom(SEED);
  const warmup = randomLayeredDag(random, Math.min(DAG_TASKS, 40), 4, MIN_MS, MAX_MS);
  const dags = Array.from({ length: DAGS }, () =>
    randomLayeredDag(random, DAG_TASKS, DAG_LAYERS, MIN_MS, MAX_MS),
  );
  const widest = Math.max(...dags.map((d) => d.idealWidth));
  const concurrency = Number(process.env.BENCH_CONCURRENCY ?? Math.ceil(Math.max(64, widest) / PROCESSES));
  const slots = PROCESSES * concurrency;
  process.stderr.write(
    `makespan: ${DAGS} DAGs of ${DAG_TASKS} tasks, widest ideal width ${widest}, ${PROCESSES} x ${concurrency} = ${slots} slots\n`,
  );
  const stack = await startBenchStack('makespan');
  const redis = WITH_BULLMQ ? await startRedis(stack.dir) : null;
  try {
    const token = await addWorkerAgent(stack, `bench-${stack.suffix}`);
    const am: Partial<Record<'nats' | 'http', DagFigures[]>> = {};
    for (const transport of TRANSPORTS) {
      am[transport] = await runAm(stack, token, transport, concurrency, warmup, dags);
    }
    const bullmqByRelease: Partial<Record<BullmqRelease, DagFigures[]>> = {};
    if (redis) {
      for (const release of BULLMQ_RELEASES) {
        const run = await runBullmqDags(redis.url, warmup, dags, PROCESSES, concurrency, release);
        bullmqByRelease[release] = run.makespanMs.map((ms, i) => figures(ms, dags[i] as Dag));
      }
    }
    // BullMQ's best showing: the release with the lower median ratio.
    const bullmqRelease = BULLMQ_RELEASES.filter((r) => bullmqByRelease[r] !== undefined).sort(
      (a, b) =>
        median((bullmqByRelease[a] ?? []).map((r) => r.ratio)) -
        median((bullmqByRelease[b] ?? []).map((r) => r.ratio)),
    )[0];
    const bullmq = bullmqRelease === undefined ? null : (bullmqByRelease[bullmqRelease] ?? null);
    const summary = (rows: DagFigures[]) => ({
      medianRatio: median(rows.map((r) => r.ratio)),
      maxRatio: Math.max(...rows.map((r) => r.ratio)),
      perDag: rows,
    });
    const bullmqMedian = bullmq ? median(bullmq.map((r) => r.ratio)) : WITH_BULLMQ ? null : 'skipped';
    const headline: HeadlineRow[] = TRANSPORTS.map((transport) => {
      const value = median((am[transport] ?? []).map((r) => r.ratio));
      return {
        figure: `Makespan ÷ critical path, median of ${DAGS} random ${DAG_TASKS}-task DAGs (${transport.toUpperCase()})`,
        value,
        unit: '×',
        goal: `≤ ${GOAL_RATIO.toFixed(2)}`,
        met: value <= GOAL_RATIO,
        bullmq: bullmqMedian,
      };
    });
    printReport({
      benchmark: 'makespan',
      headline,
      seed: SEED,
      dags: DAGS,
      tasksPerDag: DAG_TASKS,
      layers: DAG_LAYERS,
      taskMs: `${MIN_MS}-${MAX_MS} (uniform integer)`,
      workerSlots: `${PROCESSES} processes x concurrency ${concurrency} = ${slots}`,
      idealWidth: dags.map((d) => d.idealWidth),
      criticalPathTasks: dags.map((d) => d.criticalPathTasks),
      nats: process.env.NATS_URL ? 'external' : `private nats-server (GOMAXPROCS=${defaultGoMaxProcs()})`,
      am: Object.fromEntries(TRANSPORTS.map((t) => [t, summary(am[t] ?? [])])),
      bullmq: bullmq
        ? {
            headlineRelease: bullmqRelease,
            releases: {
              worker:
                'the worker that completed a job adds the dependents it made ready (HINCRBY counters in Redis)',
              driver:
                'one driver hears every completed job through QueueEvents and adds the ready dependents',
            },
            ...Object.fromEntries(
              Object.entries(bullmqByRelease).map(([release, rows]) => [release, summary(rows)]),
            ),
            redis: process.env.REDIS_URL ? 'external' : 'spawned redis-server (appendonly everysec)',
          }
        : 'skipped',
    });
  } finally {
    await redis?.stop();
    await stack.stop();
  }
}

function figures(makespanMs: number, dag: Dag): DagFigures {
  return {
    makespanMs,
    criticalPathMs: dag.criticalPathMs,
    ratio: round(makespanMs / dag.criticalPathMs, 3),
    overheadMsPerCriticalTask: round((makespanMs - dag.criticalPathMs) / dag.criticalPathTasks, 2),
  };
}

async function runAm(
  stack: BenchStack,
  token: string,
  transport: 'http' | 'nats',
  concurrency: number,
  warmup: Dag,
  dags: readonly Dag[],
): Promise<DagFigures[]> {
  const workers = await spawnAll(PROCESSES, 'bench/support/sleep-worker.ts', {
    AM_URL: stack.server.url,
    AM_TOKEN: token,
    NATS_URL: stack.natsUrl,
    BENCH_TRANSPORT: transport,
    BENCH_CONCURRENCY: String(concurrency),
  });
  // Completions by graph as the projector applies them; a graph can finish tasks before its POST is
  // acknowledged, so they are kept from the start rather than looked for after the reply.
  const completedAt = new Map<string, Map<string, number>>();
  let notify: () => void = () => {};
  const stopListening = stack.server.node.ctx.projector.onApplied((batch) => {
    const now = performance.now();
    for (const { event, anomaly } of batch.events) {
      // A void result (anomaly) changed nothing; `_synthesis` never runs here (no auditor).
      if (event.type !== 'TaskCompleted' || anomaly !== null) continue;
      const { graphId, taskId } = event;
      if (graphId === undefined || taskId === undefined || taskId.startsWith('_')) continue;
      let byTask = completedAt.get(graphId);
      if (byTask === undefined) {
        byTask = new Map();
        completedAt.set(graphId, byTask);
      }
      byTask.set(taskId, now);
    }
    notify();
  });
  const runOne = async (dag: Dag, label: string): Promise<number> => {
    const { graphId } = await api<{ graphId: string }>(
      stack.server.url,
      stack.adminToken,
      'POST',
      '/v1/tasks',
      {
        goal: `makespan ${label}`,
        tasks: dag.tasks.map((t) => ({
          id: t.id,
          title: t.id,
          instructions: `sleep ${t.durationMs}`,
          ...(t.dependsOn.length > 0 ? { dependsOn: t.dependsOn } : {}),
        })),
      },
    );
    const acknowledgedAt = performance.now();
    const deadline = acknowledgedAt + DAG_TIMEOUT_MS;
    while ((completedAt.get(graphId)?.size ?? 0) < dag.tasks.length) {
      if (performance.now() > deadline) throw new Error(`${label}: not done within ${DAG_TIMEOUT_MS} ms`);
      await new Promise<void>((resolve) => {
        notify = resolve;
        setTimeout(resolve, 1_000);
      });
    }
    const last = Math.max(...(completedAt.get(graphId)?.values() ?? []));
    return round(last - acknowledgedAt, 1);
  };
  try {
    await runOne(warmup, `${transport} warm-up`);
    const rows: DagFigures[] = [];
    for (const [i, dag] of dags.entries()) {
      const row = figures(await runOne(dag, `${transport} dag ${i + 1}`), dag);
      process.stderr.write(
        `am ${transport} dag ${i + 1}: makespan ${row.makespanMs} ms, critical path ${row.criticalPathMs} ms, ratio ${row.ratio}\n`,
      );
      rows.push(row);
    }
    return rows;
  } finally {
    stopListening();
    await stopAll(workers);
  }
}

await main();
