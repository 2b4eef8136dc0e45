/**
 * What every benchmark shares: a private nats-server and an in-process AM server, child processes that
 * say `ready`, Redis for BullMQ, CPU and RSS of a process from /proc, percentiles, and the headline rows
 * `npm run bench` gathers into bench/results/<date>.{json,md} and the README table.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { v4 as uuidv4 } from 'uuid';
import { type ServerRuntime, startServerRuntime } from '../../src/cli/server-runtime.ts';
import { loadConfig } from '../../src/config.ts';
import {
  findFreePort,
  type NatsServerProcess,
  startNatsServerProcess,
} from '../../src/store/nats-server-process.ts';

export const ROOT = join(import.meta.dirname, '..', '..');

/**
 * One line of the results table: a figure, the goal it is held to, and BullMQ's figure for the same
 * shape where there is one. `met` is null when the goal has no pass/fail reading (information only).
 */
export interface HeadlineRow {
  figure: string;
  value: number;
  unit: string;
  goal: string;
  met: boolean | null;
  bullmq?: number | string | null;
}

/** What each benchmark prints as its last stdout line (one JSON object). */
export interface BenchReport {
  benchmark: string;
  headline: HeadlineRow[];
  [detail: string]: unknown;
}

export function printReport(report: BenchReport): void {
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

export interface BenchStack {
  dir: string;
  natsUrl: string;
  nats: NatsServerProcess | null;
  server: ServerRuntime;
  adminToken: string;
  /** A unique suffix for names in a shared NATS (stream, subjects, agent ids). */
  suffix: string;
  stop(): Promise<void>;
}

/**
 * A private nats-server (unless NATS_URL is set: then a stream and subjects of its own) and an AM server
 * in this process with no planner/auditor/manager: benchmarks submit explicit graphs.
 */
export async function startBenchStack(name: string, env: Record<string, string> = {}): Promise<BenchStack> {
  const dir = mkdtempSync(join(tmpdir(), `am-bench-${name}-`));
  const nats = process.env.NATS_URL ? null : await startNatsServerProcess({ storeDir: join(dir, 'nats') });
  const natsUrl = process.env.NATS_URL ?? (nats as NatsServerProcess).url;
  const suffix = uuidv4().slice(0, 8);
  const adminToken = `bench-admin-${uuidv4()}`;
  const config = loadConfig({
    NATS_URL: natsUrl,
    AM_HOME: dir,
    AM_HTTP_PORT: '0',
    AM_ADMIN_TOKEN: adminToken,
    AM_MANAGER: 'false',
    AM_LOG_LEVEL: 'warn',
    AM_RATE_LIMIT_PER_SEC: '1000000',
    ...(process.env.NATS_URL
      ? { AM_STREAM: `AM_BENCH_${suffix}`, AM_SUBJECT_PREFIX: `bench${suffix}.evt` }
      : {}),
    ...env,
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
  return {
    dir,
    natsUrl,
    nats,
    server,
    adminToken,
    suffix,
    async stop() {
      await server.stop();
      await nats?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Registers a worker agent and returns its bearer token. */
export async function addWorkerAgent(stack: BenchStack, agentId: string): Promise<string> {
  const reply = await api<{ token: string }>(stack.server.url, stack.adminToken, 'POST', '/v1/agents', {
    agentId,
    role: 'worker',
  });
  return reply.token;
}

export async function api<T>(
  base: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

/** Starts `count` copies of a bench/support script under tsx and waits until each printed `ready`. */
export async function spawnAll(
  count: number,
  script: string,
  env: Record<string, string>,
): Promise<ChildProcess[]> {
  const children = Array.from({ length: count }, () =>
    spawn(process.execPath, ['--import', 'tsx', join(ROOT, script)], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  await Promise.all(children.map((child) => waitForLine(child, 'ready')));
  return children;
}

/** SIGTERMs the children; resolves with the CPU milliseconds they reported (`cpu <ms>`) in all. */
export async function stopAll(children: ChildProcess[]): Promise<number> {
  const reported = await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null) return 0;
      let output = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.kill('SIGTERM');
      await once(child, 'exit');
      const match = /^cpu ([\d.]+)$/m.exec(output);
      return match ? Number(match[1]) : Number.NaN;
    }),
  );
  return reported.reduce((sum, ms) => sum + ms, 0);
}

export function waitForLine(child: ChildProcess, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      if (buffer.split('\n').includes(line)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`${line} never came; exit ${code}`)));
  });
}

/** CPU (user + system) a process has used so far, from /proc (Linux; clock ticks of 10 ms). */
export function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

/** Resident set size of a process in MB, from /proc (Linux). */
export function processRssMb(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? round(Number(match[1]) / 1024, 1) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

export function cpuMs(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000;
}

export interface RedisHandle {
  url: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

/** REDIS_URL when set, else a redis-server of its own with AOF everysec (BullMQ's usual durability). */
export async function startRedis(dir: string): Promise<RedisHandle> {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, pid: undefined, async stop() {} };
  const port = await findFreePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'yes'];
  args.push('--appendfsync', 'everysec', '--dir', dir, '--save', '');
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited ${code}`)));
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid,
    async stop() {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** p50/p90/p99/max of a sample, rounded to 0.01. */
export function percentiles(values: readonly number[]): Record<string, number> {
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

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? 0)
    : round(((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2, 3);
}

export function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export function mapValues<T, U>(record: Record<string, T>, fn: (value: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, fn(value)]));
}
