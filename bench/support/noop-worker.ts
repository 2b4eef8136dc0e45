/**
 * A worker process for the throughput benchmark: no-op tasks (the output is the task id), through the
 * real worker client. Env: AM_URL, AM_TOKEN, NATS_URL, BENCH_TRANSPORT (http|nats), BENCH_CONCURRENCY.
 * Prints `done <completed>` and `cpu <ms used since ready>` and exits on SIGTERM.
 */

import { HttpTransport } from '../../src/worker/http-transport.ts';
import { NatsTransport } from '../../src/worker/nats-transport.ts';
import { createWorker } from '../../src/worker/worker.ts';
import { serveBenchProtocol } from './worker-process.ts';

const token = process.env.AM_TOKEN ?? '';
const transport =
  process.env.BENCH_TRANSPORT === 'nats'
    ? await NatsTransport.connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', token })
    : new HttpTransport({ serverUrl: process.env.AM_URL ?? 'http://127.0.0.1:8080', token });
const worker = createWorker(
  { execute: async ({ task }) => ({ status: 'completed', output: task.id, history: [] }) },
  {
    transport,
    concurrency: Number(process.env.BENCH_CONCURRENCY ?? 1),
    claimWaitMs: 2_000,
    shutdownGraceMs: 5_000,
    onEvent: (event) => {
      if (event.type === 'error') process.stderr.write(`noop-worker: ${event.message}\n`);
    },
  },
);
worker.start();
serveBenchProtocol(worker);
