import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Agents } from '../agents/index.ts';
import { type Config, natsServers } from '../config.ts';
import { AppError } from '../errors.ts';
import { managerAgents } from '../manager/agents-adapter.ts';
import { generateToken } from '../node/principal.ts';
import {
  type ClientConfig,
  natsUserOf,
  parseClientConfig,
  type RegisterAgentReply,
} from '../protocol/index.ts';
import { type EmbeddedNats, startEmbeddedNats } from '../store/embedded-nats.ts';
import { lockHome } from '../store/home-lock.ts';
import { agentHandlers } from '../worker/agent-handlers.ts';
import { HttpTransport } from '../worker/http-transport.ts';
import { createWorker, type Worker } from '../worker/worker.ts';
import { Cleanups } from './cleanups.ts';
import { reportCatchUp } from './report-catch-up.ts';
import { type ServerRuntime, startServerRuntime } from './server-runtime.ts';

export interface LocalStackOptions {
  config: Config;
  log: Logger;
  agents: Agents;
  /** Local workers to run. */
  workers: number;
  /** `process`: `am worker` children (am up); `in-process`: worker loops in this process (am demo). */
  workerMode: 'process' | 'in-process';
  /** Lines for the operator (worker output in process mode, catch-up progress). */
  print?: (line: string) => void;
  /** Told when the server's projector stopped for good (the command should exit non-zero). */
  onFatal?: (error: unknown) => void;
}

export interface LocalStack {
  url: string;
  adminToken: string;
  adminConfigPath: string;
  runtime: ServerRuntime;
  embedded: EmbeddedNats | null;
  /**
   * Stops workers (releasing their tasks), the server, then the embedded NATS; idempotent, and bounded by
   * AM_SHUTDOWN_TIMEOUT_MS (each step has its share).
   */
  stop(): Promise<void>;
}

const BIN = resolve(import.meta.dirname, '../../bin/am.mjs');

/**
 * Everything on one machine: NATS (embedded unless NATS_URL is set), one server process (this one:
 * read model, API, manager) and local workers. State lives in AM_HOME and is reused across restarts.
 */
export async function startLocalStack(opts: LocalStackOptions): Promise<LocalStack> {
  const { config, log } = opts;
  const home = resolve(config.AM_HOME);
  // Before anything in AM_HOME is written: admin.json, the worker configs and the read model are this
  // process's alone (with NATS_URL too). The embedded NATS takes the same lock again.
  const lock = lockHome(home);
  const print = opts.print ?? (() => {});
  const adminConfigPath = join(home, 'admin.json');
  const cleanups = new Cleanups(log);
  cleanups.push('home lock', async () => lock.release(), 500);
  // The shutdown budget, shared out: workers first (they release their tasks through the server), then the
  // server, then NATS.
  const budget = config.AM_SHUTDOWN_TIMEOUT_MS;
  try {
    const embedded =
      config.NATS_URL === undefined
        ? await startEmbeddedNats({
            home,
            // SIGKILL after its share of the budget (JetStream recovers; acknowledged writes are on disk).
            stopTimeoutMs: Math.floor(budget * 0.1),
            ...(config.AM_NATS_SERVER_BIN ? { binary: config.AM_NATS_SERVER_BIN } : {}),
          })
        : null;
    if (embedded) cleanups.push('embedded NATS', () => embedded.stop(), Math.floor(budget * 0.15));
    const savedAdmin = readClientConfig(adminConfigPath);
    const adminToken = config.AM_ADMIN_TOKEN ?? savedAdmin?.auth_token ?? generateToken();
    let runtime: ServerRuntime;
    try {
      runtime = await startServerRuntime({
        config: { ...config, AM_ADMIN_TOKEN: adminToken },
        log,
        agents: managerAgents(opts.agents),
        ...(embedded
          ? {
              nats: {
                servers: [embedded.url],
                user: embedded.users.service.user,
                pass: embedded.users.service.password,
              },
            }
          : {}),
        ...(embedded ? { natsUsers: (agents) => embedded.setAgents(agents) } : {}),
        ...(opts.onFatal === undefined ? {} : { onFatal: opts.onFatal }),
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        throw new AppError(
          'AM_ERR_CONFIG_INVALID',
          `port ${config.AM_HTTP_PORT} is already in use — stop what runs there or set AM_HTTP_PORT`,
        );
      }
      throw error;
    }
    cleanups.push('server', () => runtime.stop(), Math.floor(budget * 0.25));
    await reportCatchUp(runtime, print);
    // Workers connect to the embedded server as their own NATS users: they must be in its config first.
    if (embedded && !(await runtime.natsUsersSynced())) {
      throw new Error('could not write the agents NATS users into the embedded nats-server config');
    }
    const natsUrl = embedded?.url ?? natsServers(config).join(',');
    if (config.AM_ADMIN_TOKEN === undefined) {
      writeClientConfig(adminConfigPath, {
        client_agent_id: 'admin',
        server_url: runtime.url,
        auth_token: adminToken,
      });
    }
    const workerConfigs: string[] = [];
    for (let i = 1; i <= opts.workers; i++) {
      workerConfigs.push(await ensureWorkerConfig(home, i, runtime.url, adminToken, natsUrl));
    }
    if (opts.workerMode === 'process') {
      // A child gets a little less than its share, so it is done before this process moves on.
      const childBudget = Math.floor(budget * 0.45);
      const children = workerConfigs.map((file, i) =>
        spawnWorker(file, `worker-${i + 1}`, print, Math.floor(childBudget * 0.9)),
      );
      cleanups.push('workers', () => stopChildren(children, childBudget), childBudget + 300);
    } else {
      const workers: Worker[] = workerConfigs.map((file) => {
        const client = readClientConfig(file)!;
        const worker = createWorker(agentHandlers(opts.agents), {
          transport: new HttpTransport({ serverUrl: client.server_url, token: client.auth_token }),
          concurrency: 2,
          claimWaitMs: 5_000,
          shutdownGraceMs: Math.floor(budget * 0.3),
          shutdownReleaseMs: Math.floor(budget * 0.2),
        });
        worker.start();
        return worker;
      });
      cleanups.push(
        'workers',
        async () => {
          await Promise.all(workers.map((worker) => worker.stop()));
        },
        Math.floor(budget * 0.5),
      );
    }
    return {
      url: runtime.url,
      adminToken,
      adminConfigPath,
      runtime,
      embedded,
      stop: () => cleanups.runAll(),
    };
  } catch (error) {
    await cleanups.runAll();
    throw error;
  }
}

/**
 * Reuses `<home>/worker-<i>.json` while its token still works (rotating the credentials of one written
 * before agents had NATS users of their own); else registers a new worker agent.
 */
async function ensureWorkerConfig(
  home: string,
  index: number,
  serverUrl: string,
  adminToken: string,
  natsUrl: string,
): Promise<string> {
  const file = join(home, `worker-${index}.json`);
  const existing = readClientConfig(file);
  if (existing && (await tokenWorks(serverUrl, existing.auth_token))) {
    const ownNatsUser = existing.nats_user === natsUserOf(existing.client_agent_id) && existing.nats_password;
    const credentials = ownNatsUser
      ? null
      : await adminCall<RegisterAgentReply>(
          serverUrl,
          adminToken,
          'POST',
          `/v1/agents/${encodeURIComponent(existing.client_agent_id)}/rotate`,
        );
    writeClientConfig(file, {
      ...existing,
      server_url: serverUrl,
      ...(credentials ? credentialFields(credentials) : {}),
      ...(natsUrl ? { nats_url: natsUrl } : {}),
    });
    return file;
  }
  const base = `local-worker-${index}`;
  const agentId =
    existing || (await agentExists(serverUrl, adminToken, base))
      ? `${base}-${Date.now().toString(36)}`
      : base;
  const registered = await adminCall<RegisterAgentReply>(serverUrl, adminToken, 'POST', '/v1/agents', {
    agentId,
    role: 'worker',
  });
  writeClientConfig(file, {
    client_agent_id: agentId,
    server_url: serverUrl,
    ...credentialFields(registered),
    ...(natsUrl ? { nats_url: natsUrl } : {}),
  });
  return file;
}

function credentialFields(
  reply: RegisterAgentReply,
): Pick<ClientConfig, 'auth_token' | 'nats_user' | 'nats_password'> {
  return { auth_token: reply.token, nats_user: reply.natsUser, nats_password: reply.natsPassword };
}

async function adminCall<T>(
  serverUrl: string,
  adminToken: string,
  method: 'POST',
  path: string,
  body?: unknown,
): Promise<T> {
  const response = await fetch(new URL(path, serverUrl), {
    method,
    headers: {
      authorization: `Bearer ${adminToken}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`${method} ${path} failed: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

async function tokenWorks(serverUrl: string, token: string): Promise<boolean> {
  const response = await fetch(new URL('/readyz', serverUrl), {
    headers: { authorization: `Bearer ${token}` },
  });
  return response.status !== 401 && response.status !== 403;
}

async function agentExists(serverUrl: string, adminToken: string, agentId: string): Promise<boolean> {
  const response = await fetch(new URL('/v1/agents', serverUrl), {
    headers: { authorization: `Bearer ${adminToken}` },
  });
  if (!response.ok) return false;
  const { agents } = (await response.json()) as { agents: { agentId: string }[] };
  return agents.some((agent) => agent.agentId === agentId);
}

function spawnWorker(
  configFile: string,
  name: string,
  print: (line: string) => void,
  shutdownTimeoutMs: number,
): ChildProcess {
  const child = spawn(process.execPath, [BIN, 'worker', '--config', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, AM_SHUTDOWN_TIMEOUT_MS: String(Math.max(1_000, shutdownTimeoutMs)) },
  });
  const relay = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line.trim()) print(`[${name}] ${line}`);
  };
  child.stdout?.on('data', relay);
  child.stderr?.on('data', relay);
  return child;
}

/** SIGTERM to every child, SIGKILL to those still there after `timeoutMs`. */
async function stopChildren(children: ChildProcess[], timeoutMs: number): Promise<void> {
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    }),
  );
}

export function readClientConfig(path: string): ClientConfig | null {
  if (!existsSync(path)) return null;
  const parsed = parseClientConfig(readFileSync(path, 'utf8'));
  return parsed.ok ? parsed.config : null;
}

function writeClientConfig(path: string, config: ClientConfig): void {
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
}
