import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TaskGraph, TrailEvent } from '../../../src/protocol/index.ts';
import { freePort } from '../../kit/index.ts';

export const ROOT = resolve(import.meta.dirname, '../../..');
export const AM_BIN = join(ROOT, 'bin/am.mjs');

/** A child process with its output kept, for assertions and for waiting on a line. */
export interface Proc {
  child: ChildProcess;
  output(): string;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

const running = new Set<Proc>();
/** Process group ids of every process spawned here (each is its group leader). */
const groups = new Set<number>();

export function spawnProc(
  command: string,
  args: string[],
  env: Record<string, string | undefined> = {},
): Proc {
  const merged: NodeJS.ProcessEnv = { ...process.env, AM_LOG_LEVEL: 'warn' };
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete merged[key];
    else merged[key] = value;
  }
  // Its own process group, so killAll also reaches what it started (npm start → am up → workers, NATS).
  const child = spawn(command, args, {
    cwd: ROOT,
    env: merged,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  if (child.pid !== undefined) groups.add(child.pid);
  let text = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    text += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = once(child, 'exit').then(([code, signal]) => (code ?? String(signal)) as number | string);
  const proc: Proc = {
    child,
    output: () => text,
    exited,
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise((resolvePromise, reject) => {
        const check = () => {
          const match = pattern.exec(text);
          if (match) {
            cleanup();
            resolvePromise(match);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${pattern}; output:\n${text}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        void exited.then((code) => {
          if (listeners.has(check)) {
            cleanup();
            reject(new Error(`exited (${code}) before ${pattern}; output:\n${text}`));
          }
        });
        listeners.add(check);
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  running.add(proc);
  void exited.then(() => running.delete(proc));
  return proc;
}

/** `node bin/am.mjs …` */
export function am(args: string[], env: Record<string, string | undefined> = {}): Proc {
  return spawnProc(process.execPath, [AM_BIN, ...args], env);
}

/**
 * SIGKILLs every process group a test started, including children whose parent is already gone: npm
 * cannot forward a SIGKILL, so killing `npm start` alone would leave `am up` and its NATS running.
 */
export async function killAll(): Promise<void> {
  for (const pid of groups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // The group is gone already.
    }
  }
  groups.clear();
  await Promise.all([...running].map((proc) => proc.stop('SIGKILL')));
}

export interface ServerProc {
  url: string;
  adminToken: string;
  proc: Proc;
}

/** `am server` on a free port against a running NATS, with an offline (or configured) model. */
export async function startServer(opts: {
  natsUrl: string;
  dir: string;
  name?: string;
  /** Share one admin token between servers of one stream. Default: a new one. */
  adminToken?: string;
  /** The HTTP port (a restart on the same address). Default: a free one. */
  port?: number;
  env?: Record<string, string | undefined>;
}): Promise<ServerProc> {
  const port = opts.port ?? (await freePort());
  const adminToken = opts.adminToken ?? `e2e-admin-${randomUUID()}`;
  const proc = am(['server', '--port', String(port)], {
    NATS_URL: opts.natsUrl,
    AM_ADMIN_TOKEN: adminToken,
    AM_DB: join(opts.dir, `${opts.name ?? 'server'}-${port}.sqlite`),
    AM_HOME: opts.dir,
    AM_LLM_PROVIDER: 'offline',
    AM_RECONCILE_INTERVAL_MS: '200',
    ...opts.env,
  });
  await proc.waitFor(/AM server listening on (\S+)/, 60_000);
  return { url: `http://127.0.0.1:${port}`, adminToken, proc };
}

export async function api<T = unknown>(
  url: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : null) as T };
}

/** Registers a worker agent and writes its mcp_client_config.json. */
export async function workerConfig(
  server: ServerProc,
  dir: string,
  agentId: string,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const reply = await api<{ token: string }>(server.url, server.adminToken, 'POST', '/v1/agents', {
    agentId,
    role: 'worker',
  });
  if (reply.status !== 201)
    throw new Error(`register ${agentId}: ${reply.status} ${JSON.stringify(reply.body)}`);
  const file = join(dir, `${agentId}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      client_agent_id: agentId,
      server_url: server.url,
      auth_token: reply.body.token,
      ...extra,
    }),
  );
  return file;
}

export async function submitGraph(
  server: ServerProc,
  body: unknown,
): Promise<{ graphId: string; seq: number }> {
  const reply = await api<{ graphId: string; seq: number }>(
    server.url,
    server.adminToken,
    'POST',
    '/v1/tasks',
    body,
  );
  if (reply.status !== 202) throw new Error(`submit: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body;
}

export async function waitForGraph(
  server: { url: string; adminToken: string },
  graphId: string,
  until: (graph: TaskGraph) => boolean,
  timeoutMs = 90_000,
): Promise<TaskGraph> {
  const deadline = Date.now() + timeoutMs;
  let last: TaskGraph | null = null;
  while (Date.now() < deadline) {
    const reply = await api<TaskGraph>(server.url, server.adminToken, 'GET', `/v1/graphs/${graphId}`);
    if (reply.status === 200) {
      last = reply.body;
      if (until(last)) return last;
    }
    await sleep(100);
  }
  throw new Error(`graph ${graphId} did not get there in time; last: ${JSON.stringify(last?.graph)}`);
}

export async function trail(
  server: { url: string; adminToken: string },
  graphId: string,
): Promise<TrailEvent[]> {
  const reply = await api<{ events: TrailEvent[] }>(
    server.url,
    server.adminToken,
    'GET',
    `/v1/graphs/${graphId}/events?limit=10000`,
  );
  return reply.body.events;
}

export const isTerminal = (graph: TaskGraph) =>
  ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(graph.graph.status);
