/**
 * A BullMQ worker process for the throughput benchmark: no-op jobs, `BENCH_CONCURRENCY` at once.
 * Env: REDIS_URL, BENCH_QUEUE, BENCH_CONCURRENCY. Prints `cpu <ms used since ready>` and exits on SIGTERM. Completed jobs are kept: the
 * benchmark counts them.
 */
import { Worker } from 'bullmq';

const connection = { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' };
const worker = new Worker(process.env.BENCH_QUEUE ?? 'bench', async () => 'ok', {
  connection,
  concurrency: Number(process.env.BENCH_CONCURRENCY ?? 1),
});
worker.on('error', (error) => process.stderr.write(`bullmq worker: ${error.message}\n`));
await worker.waitUntilReady();
const cpuAtReady = process.cpuUsage();
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  const cpu = process.cpuUsage(cpuAtReady);
  void worker.close().then(() => {
    process.stdout.write(`cpu ${(cpu.user + cpu.system) / 1000}\n`);
    process.exit(0);
  });
});
