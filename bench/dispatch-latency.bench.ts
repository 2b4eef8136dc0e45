/**
 * `npm run bench:dispatch-latency`: how long an idle worker waits for a task that just became READY.
 * A chain graph (each task depends on the one before) is walked by one worker in a separate process:
 * for every task it parks a long-poll claim, submits the current task's result, and times from that
 * result's acknowledgement to the claim reply carrying the dependent task — over HTTP and over NATS.
 * Beside it, BullMQ's nearest shape: a flow whose parent waits for one child, timed from the child's
 * completion being acknowledged to the parent's processor starting at an idle worker
 * (bench/support/bullmq-flow-latency.ts). Prints JSON (p50/p90/p99/max in ms) with headline rows:
 * p50 ≤ 2 ms over NATS, ≤ 5 ms over HTTP, p99 ≤ 15 ms for each.
 *
 * Env: BENCH_SAMPLES (default 200 per transport), BENCH_TRANSPORTS (http,nats), BENCH_BULLMQ=0 skips
 * BullMQ, NATS_URL (else a private nats-server), REDIS_URL (else a spawned redis-server).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  addWorkerAgent,
  api,
  type HeadlineRow,
  percentiles,
  printReport,
  ROOT,
  startBenchStack,
  startRedis,
} from './support/bench-kit.ts';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 200);
const TRANSPORTS = (process.env.BENCH_TRANSPORTS ?? 'http,nats')
  .split(',')
  .filter((t): t is 'http' | 'nats' => t === 'http' || t === 'nats');
const WITH_BULLMQ = process.env.BENCH_BULLMQ !== '0';
const P50_GOAL_MS = { nats: 2, http: 5 } as const;
const P99_GOAL_MS = 15;

async function main(): Promise<void> {
  const stack = await startBenchStack('latency');
  const redis = WITH_BULLMQ ? await startRedis(stack.dir) : null;
  try {
    const workerToken = await addWorkerAgent(stack, `bench-${stack.suffix}`);
    const results: Record<string, Record<string, number>> = {};
    for (const transport of TRANSPORTS) {
      const tasks = Array.from({ length: SAMPLES + 1 }, (_, i) => ({
        id: `t${i}`,
        title: `step ${i}`,
        instructions: 'nothing',
        ...(i > 0 ? { dependsOn: [`t${i - 1}`] } : {}),
      }));
      const { graphId } = await api<{ graphId: string }>(
        stack.server.url,
        stack.adminToken,
        'POST',
        '/v1/tasks',
        {
          goal: `dispatch latency over ${transport}`,
          tasks,
        },
      );
      const latencies = await runClient('bench/support/latency-client.ts', {
        AM_URL: stack.server.url,
        AM_TOKEN: workerToken,
        NATS_URL: stack.natsUrl,
        BENCH_TRANSPORT: transport,
        BENCH_SAMPLES: String(SAMPLES),
        BENCH_GRAPH: graphId,
      });
      results[transport] = percentiles(latencies);
      process.stderr.write(`${transport}: ${JSON.stringify(results[transport])}\n`);
    }
    let bullmq: Record<string, number> | null = null;
    if (redis) {
      bullmq = percentiles(
        await runClient('bench/support/bullmq-flow-latency.ts', {
          REDIS_URL: redis.url,
          BENCH_SAMPLES: String(SAMPLES),
        }),
      );
      process.stderr.write(`bullmq flow child -> parent: ${JSON.stringify(bullmq)}\n`);
    }
    const headline: HeadlineRow[] = [];
    for (const transport of TRANSPORTS) {
      const figures = results[transport] ?? {};
      const name = transport === 'nats' ? 'NATS' : 'HTTP';
      headline.push(
        {
          figure: `Dispatch latency p50 (${name})`,
          value: figures.p50 ?? Number.NaN,
          unit: 'ms',
          goal: `≤ ${P50_GOAL_MS[transport]} ms`,
          met: (figures.p50 ?? Number.POSITIVE_INFINITY) <= P50_GOAL_MS[transport],
          bullmq: bullmq?.p50 ?? null,
        },
        {
          figure: `Dispatch latency p99 (${name})`,
          value: figures.p99 ?? Number.NaN,
          unit: 'ms',
          goal: `≤ ${P99_GOAL_MS} ms`,
          met: (figures.p99 ?? Number.POSITIVE_INFINITY) <= P99_GOAL_MS,
          bullmq: bullmq?.p99 ?? null,
        },
      );
    }
    printReport({
      benchmark: 'dispatch-latency',
      headline,
      what: "a dependency's result acknowledged -> the dependent's claim reply at an idle, parked worker (ms)",
      bullmqWhat:
        "a flow child's completion acknowledged -> its parent's processor starting at an idle worker (ms)",
      samplesPerTransport: SAMPLES,
      nats: process.env.NATS_URL ? 'external' : 'private nats-server',
      redis: !redis
        ? 'skipped'
        : process.env.REDIS_URL
          ? 'external'
          : 'spawned redis-server (appendonly everysec)',
      latencyMs: results,
      bullmqLatencyMs: bullmq ?? 'skipped',
    });
  } finally {
    await stack.stop();
    await redis?.stop();
  }
}

/** Runs a client script that prints `latencies <JSON array>`; resolves with the array. */
function runClient(script: string, env: Record<string, string>): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, script)], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', (code) => {
      const match = /^latencies (.*)$/m.exec(output);
      if (code === 0 && match?.[1]) resolve(JSON.parse(match[1]) as number[]);
      else reject(new Error(`${script} exited ${code}: ${output}`));
    });
  });
}

await main();
