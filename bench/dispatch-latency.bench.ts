/**
 * `npm run bench:dispatch-latency`: how long an idle worker waits for a task that just became READY.
 * A chain graph (each task depends on the one before) is walked by one worker in a separate process:
 * for every task it parks a long-poll claim, submits the current task's result, and times from that
 * result's acknowledgement to the claim reply carrying the dependent task — over HTTP and over NATS.
 * Prints JSON (p50/p90/p99/max in ms).
 *
 * Env: BENCH_SAMPLES (default 200 per transport), BENCH_TRANSPORTS (http,nats), NATS_URL (else a private
 * nats-server).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { v4 as uuidv4 } from 'uuid';
import { startServerRuntime } from '../src/cli/server-runtime.ts';
import { loadConfig } from '../src/config.ts';
import { startNatsServerProcess } from '../src/store/nats-server-process.ts';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 200);
const TRANSPORTS = (process.env.BENCH_TRANSPORTS ?? 'http,nats')
  .split(',')
  .filter((t): t is 'http' | 'nats' => t === 'http' || t === 'nats');
const ROOT = join(import.meta.dirname, '..');

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'am-bench-latency-'));
  const nats = process.env.NATS_URL ? null : await startNatsServerProcess({ storeDir: join(dir, 'nats') });
  const natsUrl = process.env.NATS_URL ?? nats!.url;
  const suffix = uuidv4().slice(0, 8);
  const adminToken = `bench-admin-${uuidv4()}`;
  const config = loadConfig({
    NATS_URL: natsUrl,
    AM_HOME: dir,
    AM_HTTP_PORT: '0',
    AM_ADMIN_TOKEN: adminToken,
    AM_MANAGER: 'false',
    AM_LOG_LEVEL: 'warn',
    ...(process.env.NATS_URL
      ? { AM_STREAM: `AM_BENCH_${suffix}`, AM_SUBJECT_PREFIX: `bench${suffix}.evt` }
      : {}),
  });
  const server = await startServerRuntime({
    config,
    log: pino({ level: 'warn' }),
    manager: false,
    agents: {
      plan: () => Promise.reject(new Error('no planner in the benchmark')),
      runAudit: () => Promise.reject(new Error('no auditor in the benchmark')),
    },
  });
  await server.ready;
  try {
    const worker = await api<{ token: string }>(server.url, adminToken, 'POST', '/v1/agents', {
      agentId: `bench-${suffix}`,
      role: 'worker',
    });
    const results: Record<string, Record<string, number>> = {};
    for (const transport of TRANSPORTS) {
      const tasks = Array.from({ length: SAMPLES + 1 }, (_, i) => ({
        id: `t${i}`,
        title: `step ${i}`,
        instructions: 'nothing',
        ...(i > 0 ? { dependsOn: [`t${i - 1}`] } : {}),
      }));
      const { graphId } = await api<{ graphId: string }>(server.url, adminToken, 'POST', '/v1/tasks', {
        goal: `dispatch latency over ${transport}`,
        tasks,
      });
      const latencies = await runClient({
        AM_URL: server.url,
        AM_TOKEN: worker.token,
        NATS_URL: natsUrl,
        BENCH_TRANSPORT: transport,
        BENCH_SAMPLES: String(SAMPLES),
        BENCH_GRAPH: graphId,
      });
      results[transport] = summarize(latencies);
      process.stderr.write(`${transport}: ${JSON.stringify(results[transport])}\n`);
    }
    const report = {
      benchmark: 'dispatch-latency',
      what: "a dependency's result acknowledged -> the dependent's claim reply at an idle, parked worker (ms)",
      samplesPerTransport: SAMPLES,
      nats: process.env.NATS_URL ? 'external' : 'private nats-server',
      latencyMs: results,
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    await server.stop();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function runClient(env: Record<string, string>): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'bench/support/latency-client.ts')],
      {
        cwd: ROOT,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', (code) => {
      const match = /^latencies (.*)$/m.exec(output);
      if (code === 0 && match?.[1]) resolve(JSON.parse(match[1]) as number[]);
      else reject(new Error(`latency client exited ${code}: ${output}`));
    });
  });
}

function summarize(values: readonly number[]): Record<string, number> {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0, 2);
  return {
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: round(sorted.at(-1) ?? 0, 2),
    samples: sorted.length,
  };
}

async function api<T>(base: string, token: string, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

await main();
