/**
 * A worker process for bench:makespan and bench:contention: a task whose instructions read `sleep <ms>`
 * takes that long (a timer, no CPU), anything else completes at once; through the real worker client.
 * Env: AM_URL, AM_TOKEN, NATS_URL, BENCH_TRANSPORT (http|nats), BENCH_CONCURRENCY, BENCH_HOLD=1 (connect,
 * print `ready`, and claim only after SIGUSR2: every worker of bench:contention starts at the same moment).
 * Prints `ready`, then on SIGTERM `done <completed>` and `cpu <ms used since ready>` and exits.
 */
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpTransport } from '../../src/worker/http-transport.ts';
import { NatsTransport } from '../../src/worker/nats-transport.ts';
import { createWorker } from '../../src/worker/worker.ts';
import { serveBenchProtocol } from './worker-process.ts';

const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 1);
// The worker client hangs one abort listener per slot on a shared signal: past 10 slots Node warns of a leak.
EventEmitter.defaultMaxListeners = Math.max(EventEmitter.defaultMaxListeners, concurrency + 10);
const token = process.env.AM_TOKEN ?? '';
const transport =
  process.env.BENCH_TRANSPORT === 'nats'
    ? await NatsTransport.connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', token })
    : new HttpTransport({ serverUrl: process.env.AM_URL ?? 'http://127.0.0.1:8080', token });

function durationMs(instructions: string): number {
  const match = /^sleep (\d+)$/.exec(instructions.trim());
  return match ? Number(match[1]) : 0;
}

const worker = createWorker(
  {
    execute: async ({ task }) => {
      const ms = durationMs(task.instructions);
      if (ms > 0) await sleep(ms);
      return { status: 'completed', output: task.id, history: [] };
    },
  },
  {
    transport,
    concurrency,
    claimWaitMs: 2_000,
    shutdownGraceMs: 5_000,
    onEvent: (event) => {
      if (event.type === 'error') process.stderr.write(`sleep-worker: ${event.message}\n`);
    },
  },
);
if (process.env.BENCH_HOLD === '1') {
  // Nothing else keeps an HTTP worker alive before its first claim (a NATS one has its connection).
  const holding = setInterval(() => {}, 60_000);
  process.once('SIGUSR2', () => {
    clearInterval(holding);
    worker.start();
  });
} else worker.start();
serveBenchProtocol(worker);
