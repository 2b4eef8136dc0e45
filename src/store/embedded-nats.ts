import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { lockHome } from './home-lock.ts';
import { type NatsAgentUser, natsServerConfig } from './nats-config.ts';
import { findFreePort, type NatsServerProcess, startNatsServerProcess } from './nats-server-process.ts';

/** The AM processes' user of the embedded server (agents have users of their own, see setAgents). */
export interface EmbeddedNatsUsers {
  service: { user: string; password: string };
}

export interface EmbeddedNats {
  url: string;
  users: EmbeddedNatsUsers;
  server: NatsServerProcess;
  /**
   * Makes `agents` the server's agent users (the agents projection's active agents with a NATS
   * password): rewrites the config and has the server reload it, which closes the connections of users no
   * longer listed. Resolves once the server reported the reload. The list is kept for the next start.
   */
  setAgents(agents: readonly NatsAgentUser[]): Promise<void>;
  stop(): Promise<void>;
}

interface EmbeddedState {
  port: number;
  users: EmbeddedNatsUsers;
  /** The agent users as last set: a restart lets agents in before AM has caught up with the stream. */
  agents?: NatsAgentUser[];
}

/**
 * Starts `nats-server -js` as a child with a generated config (users and permissions as in DESIGN.md)
 * and its store under `<home>/nats`. The port and the passwords are kept in `<home>/nats/embedded.json`
 * so a restart reuses the same store, address and credentials.
 */
export async function startEmbeddedNats(opts: {
  home: string;
  binary?: string;
  /** How long stop() waits after SIGTERM before SIGKILL. Default 10000 ms. */
  stopTimeoutMs?: number;
  /** The client port of a new home. Default 4222 when free, else any free port. */
  port?: number;
}): Promise<EmbeddedNats> {
  // Before any file is written: a second nats-server on the same store would corrupt it.
  const lock = lockHome(opts.home);
  try {
    const dir = join(opts.home, 'nats');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const statePath = join(dir, 'embedded.json');
    const state = await loadOrCreateState(statePath, opts.port);
    const configFile = join(dir, 'nats-server.conf');
    const storeDir = join(dir, 'store');
    const pidFile = join(dir, 'nats-server.pid');
    await stopOrphanedServer(pidFile, configFile);
    writePrivate(configFile, embeddedNatsConfig(state, storeDir));
    const server = await startNatsServerProcess({
      storeDir,
      storeDirInConfig: true,
      port: state.port,
      configFile,
      ...(opts.binary === undefined ? {} : { binary: opts.binary }),
      ...(opts.stopTimeoutMs === undefined ? {} : { stopTimeoutMs: opts.stopTimeoutMs }),
    });
    writeFileSync(pidFile, `${server.pid}\n`, { mode: 0o600 });
    let stopping: Promise<void> | null = null;
    let current = state;
    return {
      url: server.url,
      users: state.users,
      server,
      async setAgents(agents) {
        current = { ...current, agents: [...agents] };
        writePrivate(statePath, JSON.stringify(current, null, 2));
        writePrivate(configFile, embeddedNatsConfig(current, storeDir));
        await server.reload();
      },
      stop() {
        stopping ??= server
          .stop()
          .then(() => rmSync(pidFile, { force: true }))
          .finally(() => lock.release());
        return stopping;
      },
    };
  } catch (error) {
    lock.release();
    throw error;
  }
}

/**
 * A nats-server left running on this store by an AM process that was killed (SIGKILL leaves children
 * behind): it is stopped before a new one starts, since two servers on one JetStream store corrupt it.
 * Only a live process whose command line names this home's config (which names the store) is touched.
 */
async function stopOrphanedServer(pidFile: string, configFile: string): Promise<void> {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !runsWithConfig(pid, configFile)) {
    rmSync(pidFile, { force: true });
    return;
  }
  process.kill(pid, 'SIGTERM');
  // A clean JetStream shutdown first; SIGKILL only if it does not come.
  for (let waited = 0; waited < 10_000 && runsWithConfig(pid, configFile); waited += 100) await sleep(100);
  if (runsWithConfig(pid, configFile)) process.kill(pid, 'SIGKILL');
  for (let waited = 0; waited < 5_000 && runsWithConfig(pid, configFile); waited += 100) await sleep(100);
  rmSync(pidFile, { force: true });
}

/** Whether `pid` is alive and is a nats-server started with `configFile` (Linux /proc; elsewhere: never). */
function runsWithConfig(pid: number, configFile: string): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\u0000');
    const at = argv.indexOf('-c');
    return at >= 0 && argv[at + 1] === configFile && /nats-server/.test(argv[0] ?? '');
  } catch {
    return false;
  }
}

/** Where a client on this machine reaches the embedded server of `am up` under `home`; null when it has not run. */
export function embeddedNatsUrl(home: string): string | null {
  const path = join(home, 'nats', 'embedded.json');
  if (!existsSync(path)) return null;
  const state = JSON.parse(readFileSync(path, 'utf8')) as EmbeddedState;
  return `nats://127.0.0.1:${state.port}`;
}

async function loadOrCreateState(path: string, port: number | undefined): Promise<EmbeddedState> {
  if (existsSync(path)) {
    const state = JSON.parse(readFileSync(path, 'utf8')) as EmbeddedState;
    if (await portIsFree(state.port)) return state;
    const moved = { ...state, port: await findFreePort() };
    writePrivate(path, JSON.stringify(moved, null, 2));
    return moved;
  }
  const state: EmbeddedState = {
    port: port ?? ((await portIsFree(4222)) ? 4222 : await findFreePort()),
    users: { service: { user: 'am-service', password: secret() } },
    agents: [],
  };
  writePrivate(path, JSON.stringify(state, null, 2));
  return state;
}

/**
 * The server config: the store, the service user and the agents' users with their permissions. A state from before per-agent users also named a shared worker user: it is
 * left out, so its connections are refused.
 */
export function embeddedNatsConfig(state: EmbeddedState, storeDir: string): string {
  return natsServerConfig({
    host: '127.0.0.1',
    port: state.port,
    storeDir,
    service: state.users.service,
    agents: state.agents ?? [],
    header: [
      'Generated by AgentManager for the embedded nats-server (am up): rewritten on every start and',
      'whenever an agent is registered, rotated or revoked.',
    ],
  });
}

/** Replaces a file that holds secrets in one step (a reload never reads half a file), mode 0600. */
function writePrivate(path: string, text: string): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode: 0o600 });
  renameSync(temporary, path);
}

function secret(): string {
  return randomBytes(18).toString('base64url');
}

async function portIsFree(port: number): Promise<boolean> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}
