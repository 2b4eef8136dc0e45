/**
 * A BullMQ worker process for bench:makespan's BullMQ side. BullMQ has no DAGs, so this worker does
 * what a BullMQ user would: a job sleeps its duration, and once BullMQ has recorded it completed, the
 * worker decrements each dependent's count of unfinished dependencies in Redis (HINCRBY, atomic) and
 * adds the dependents that reach 0. Releasing from the worker saves the hop a central driver listening
 * to QueueEvents would add. The DAGs are in Redis (`<queue>:dag:<n>`, written by bullmq-dag-driver.ts).
 * With BENCH_RELEASE=driver the worker only sleeps: bullmq-dag-driver.ts releases dependents itself.
 * Env: REDIS_URL, BENCH_QUEUE, BENCH_CONCURRENCY, BENCH_RELEASE (worker|driver). Prints `ready`; on SIGTERM `cpu <ms>` and exits.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';

export interface DagJobData {
  dag: number;
  task: string;
  durationMs: number;
}

/** A task of a stored DAG: its duration and the tasks that depend on it. */
type StoredDag = Record<string, { durationMs: number; dependents: string[] }>;

const connection = { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' };
const queueName = process.env.BENCH_QUEUE ?? 'bench-dag';
const queue = new Queue<DagJobData>(queueName, { connection });
const redis = new Redis(connection.url);
const dags = new Map<number, Promise<StoredDag>>();

function loadDag(dag: number): Promise<StoredDag> {
  const cached = dags.get(dag);
  if (cached !== undefined) return cached;
  const loading = redis
    .get(`${queueName}:dag:${dag}`)
    .then((text: string | null) => JSON.parse(text ?? '{}') as StoredDag);
  dags.set(dag, loading);
  return loading;
}

async function releaseDependents(job: Job<DagJobData>): Promise<void> {
  const { dag, task } = job.data;
  const stored = await loadDag(dag);
  const dependents = stored[task]?.dependents ?? [];
  if (dependents.length === 0) return;
  const pipeline = redis.pipeline();
  for (const dependent of dependents) pipeline.hincrby(`${queueName}:remaining:${dag}`, dependent, -1);
  const counts = (await pipeline.exec()) ?? [];
  const ready = dependents.filter((_, i) => counts[i]?.[1] === 0);
  if (ready.length === 0) return;
  await queue.addBulk(
    ready.map((id) => ({
      name: id,
      data: { dag, task: id, durationMs: stored[id]?.durationMs ?? 0 },
      opts: { jobId: `${dag}-${id}` },
    })),
  );
}

const worker = new Worker<DagJobData>(
  queueName,
  async (job) => {
    await sleep(job.data.durationMs);
    return job.data.task;
  },
  { connection, concurrency: Number(process.env.BENCH_CONCURRENCY ?? 1) },
);
if (process.env.BENCH_RELEASE !== 'driver')
  worker.on('completed', (job) => {
    releaseDependents(job).catch((error: unknown) =>
      process.stderr.write(`makespan bullmq worker: ${(error as Error).message}\n`),
    );
  });
worker.on('error', (error) => process.stderr.write(`makespan bullmq worker: ${error.message}\n`));
await worker.waitUntilReady();
const cpuAtReady = process.cpuUsage();
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  const cpu = process.cpuUsage(cpuAtReady);
  void worker
    .close()
    .then(() => queue.close())
    .then(() => redis.quit())
    .then(() => {
      process.stdout.write(`cpu ${(cpu.user + cpu.system) / 1000}\n`);
      process.exit(0);
    });
});
