/**
 * bench:makespan's BullMQ side. BullMQ has no DAGs (a FlowProducer builds trees: a parent waits for its
 * children, but a job cannot have two parents), so each DAG runs the way a BullMQ user would run it: the
 * roots are added, and a job is added once its last dependency completed, by one of two releases:
 * - `worker`: the worker that completed a job decrements its dependents' counts in Redis (HINCRBY) and
 *   adds those that reach 0 (makespan-bullmq-worker.ts);
 * - `driver`: this process hears every `completed` through QueueEvents and adds the ready dependents
 *   (counts in memory): one more hop per edge.
 * The same DAGs, durations and worker slots as the AM side.
 *
 * Makespan of a DAG: from the roots' addBulk acknowledgement to the last job's `completed` seen through
 * QueueEvents — the counterpart of AM's last TaskCompleted applied by the server's projector.
 */
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { v4 as uuidv4 } from 'uuid';
import { round, spawnAll, stopAll } from './bench-kit.ts';
import type { DagJobData } from './makespan-bullmq-worker.ts';
import { type Dag, dependentsOf } from './makespan-dag.ts';

export type BullmqRelease = 'worker' | 'driver';

export interface BullmqDagRun {
  makespanMs: number[];
  workerCpuMs: number;
}

/** Runs `warmup` (not timed) then each DAG in turn; resolves with each DAG's makespan (ms). */
export async function runBullmqDags(
  redisUrl: string,
  warmup: Dag,
  dags: readonly Dag[],
  processes: number,
  concurrency: number,
  release: BullmqRelease,
): Promise<BullmqDagRun> {
  const queueName = `bench-dag-${uuidv4().slice(0, 8)}`;
  const connection = { url: redisUrl };
  const queue = new Queue<DagJobData>(queueName, { connection });
  const events = new QueueEvents(queueName, { connection });
  await events.waitUntilReady();
  const redis = new Redis(redisUrl);
  const workers = await spawnAll(processes, 'bench/support/makespan-bullmq-worker.ts', {
    REDIS_URL: redisUrl,
    BENCH_QUEUE: queueName,
    BENCH_CONCURRENCY: String(concurrency),
    BENCH_RELEASE: release,
  });
  try {
    const runOne = async (index: number, dag: Dag): Promise<number> => {
      const dependents = dependentsOf(dag.tasks);
      const stored = Object.fromEntries(
        dag.tasks.map((t) => [t.id, { durationMs: t.durationMs, dependents: dependents.get(t.id) ?? [] }]),
      );
      await redis.set(`${queueName}:dag:${index}`, JSON.stringify(stored));
      const waiting = dag.tasks.filter((t) => t.dependsOn.length > 0);
      if (waiting.length > 0)
        await redis.hset(
          `${queueName}:remaining:${index}`,
          Object.fromEntries(waiting.map((t) => [t.id, t.dependsOn.length])),
        );
      const prefix = `${index}-`;
      const remaining = new Map(dag.tasks.map((t) => [t.id, t.dependsOn.length]));
      const durations = new Map(dag.tasks.map((t) => [t.id, t.durationMs]));
      const releaseDependents = (taskId: string) => {
        const ready = (dependents.get(taskId) ?? []).filter((id) => {
          const left = (remaining.get(id) ?? 0) - 1;
          remaining.set(id, left);
          return left === 0;
        });
        if (ready.length === 0) return;
        queue
          .addBulk(
            ready.map((id) => ({
              name: id,
              data: { dag: index, task: id, durationMs: durations.get(id) ?? 0 },
              opts: { jobId: `${prefix}${id}` },
            })),
          )
          .catch((error: unknown) => process.stderr.write(`bullmq driver: ${(error as Error).message}\n`));
      };
      let completed = 0;
      let onCompleted: (args: { jobId: string }) => void = () => {};
      const lastCompleted = new Promise<number>((resolve) => {
        onCompleted = ({ jobId }) => {
          if (!jobId.startsWith(prefix)) return;
          if (release === 'driver') releaseDependents(jobId.slice(prefix.length));
          completed += 1;
          if (completed === dag.tasks.length) resolve(performance.now());
        };
      });
      events.on('completed', onCompleted);
      await queue.addBulk(
        dag.tasks
          .filter((t) => t.dependsOn.length === 0)
          .map((t) => ({
            name: t.id,
            data: { dag: index, task: t.id, durationMs: t.durationMs },
            opts: { jobId: `${prefix}${t.id}` },
          })),
      );
      const startedAt = performance.now();
      const endedAt = await lastCompleted;
      events.off('completed', onCompleted);
      return round(endedAt - startedAt, 1);
    };
    await runOne(0, warmup);
    const makespanMs: number[] = [];
    for (const [i, dag] of dags.entries()) {
      const ms = await runOne(i + 1, dag);
      process.stderr.write(
        `bullmq (${release} releases) dag ${i + 1}: makespan ${ms} ms (critical path ${dag.criticalPathMs})\n`,
      );
      makespanMs.push(ms);
    }
    return { makespanMs, workerCpuMs: await stopAll(workers) };
  } finally {
    await stopAll(workers);
    await events.close();
    await queue.obliterate({ force: true });
    await queue.close();
    await redis.quit();
  }
}
