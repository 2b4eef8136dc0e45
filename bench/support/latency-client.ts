/**
 * The client of bench:dispatch-latency: one idle worker walking a chain graph through the real worker
 * transport. For each task it parks a long-poll claim first, then submits the current task's result and
 * times from the result's acknowledgement to the claim reply that hands over the dependent task.
 * Env: AM_URL, AM_TOKEN, NATS_URL, BENCH_TRANSPORT (http|nats), BENCH_SAMPLES, BENCH_GRAPH.
 * Prints `latencies <JSON array of ms>` and exits.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { v4 as uuidv4 } from 'uuid';
import type { ClaimReply } from '../../src/protocol/index.ts';
import { HttpTransport } from '../../src/worker/http-transport.ts';
import { NatsTransport } from '../../src/worker/nats-transport.ts';
import type { WorkerTransport } from '../../src/worker/worker-transport.ts';

/** How long a parked claim gets to reach the server before the result goes out. */
const PARK_MS = 15;

const token = process.env.AM_TOKEN ?? '';
const samples = Number(process.env.BENCH_SAMPLES ?? 200);
const graphId = process.env.BENCH_GRAPH ?? '';
const transport: WorkerTransport =
  process.env.BENCH_TRANSPORT === 'nats'
    ? await NatsTransport.connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', token })
    : new HttpTransport({ serverUrl: process.env.AM_URL ?? 'http://127.0.0.1:8080', token });

const claim = () => transport.claim({ requestId: uuidv4(), waitMs: 30_000 });
let current = await claim();
const latencies: number[] = [];
for (let i = 0; i < samples; i++) {
  if (current === null || current.task.graphId !== graphId) throw new Error(`no task of ${graphId} came`);
  const parked: Promise<ClaimReply | null> = claim();
  await sleep(PARK_MS);
  await transport.submitResult({
    graphId,
    taskId: current.task.id,
    claimToken: current.claimToken,
    status: 'completed',
    output: current.task.id,
    history: [],
  });
  const acknowledgedAt = performance.now();
  current = await parked;
  latencies.push(performance.now() - acknowledgedAt);
}
await transport.close();
process.stdout.write(`latencies ${JSON.stringify(latencies)}\n`);
process.exit(0);
