/**
 * bench:makespan's BullMQ side. BullMQ has no DAGs (a FlowProducer builds trees: a parent waits for its
 * children, but a job cannot have two parents), so each DAG runs the way a BullMQ user would run it: the
 * DAG and each task's count of unfinished dependencies go into Redis, the roots are added, and the
 * workers (makespan-bullmq-worker.ts) add a job once its last dependency completed. The same DAGs,
 * durations and worker slots as the AM side.
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
      let completed = 0;
      let onCompleted: (args: { jobId: string }) => void = () => {};
      const lastCompleted = new Promise<number>((resolve) => {
        onCompleted = ({ jobId }) => {
          if (!jobId.startsWith(prefix)) return;
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
      process.stderr.write(`bullmq dag ${i + 1}: makespan ${ms} ms (critical path ${dag.criticalPathMs})\n`);
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
