/**
 * BullMQ's counterpart of bench:dispatch-latency's client: how long a parent job waits once its only
 * child completed. A FlowProducer adds a parent with one child, one flow at a time; an idle Worker
 * (concurrency 2, so a slot is free and waiting) runs both, and each sample is the time from the child's
 * completion being acknowledged (the worker's `completed` event, emitted when Redis has recorded it) to
 * the parent's processor starting. Env: REDIS_URL, BENCH_SAMPLES.
 * Prints `latencies <JSON array of ms>` and exits.
 */
import { FlowProducer, Worker } from 'bullmq';
import { v4 as uuidv4 } from 'uuid';

const connection = { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' };
const samples = Number(process.env.BENCH_SAMPLES ?? 200);
const queueName = `bench-flow-${uuidv4().slice(0, 8)}`;

let childAcknowledgedAt = Number.NaN;
let parentStarted: (latencyMs: number) => void = () => {};
const worker = new Worker(
  queueName,
  async (job) => {
    if (job.name === 'parent') parentStarted(performance.now() - childAcknowledgedAt);
    return 'ok';
  },
  { connection, concurrency: 2 },
);
worker.on('completed', (job) => {
  if (job.name === 'child') childAcknowledgedAt = performance.now();
});
worker.on('error', (error) => process.stderr.write(`bullmq flow worker: ${error.message}\n`));
await worker.waitUntilReady();
const flows = new FlowProducer({ connection });

const latencies: number[] = [];
for (let i = 0; i < samples; i++) {
  const started = new Promise<number>((resolve) => {
    parentStarted = resolve;
  });
  await flows.add({
    name: 'parent',
    queueName,
    data: { i },
    children: [{ name: 'child', queueName, data: { i } }],
  });
  latencies.push(await started);
}
await flows.close();
await worker.close();
process.stdout.write(`latencies ${JSON.stringify(latencies)}\n`);
process.exit(0);
