import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { lockHome } from './home-lock.ts';
import { natsServerConfig } from './nats-config.ts';
import { findFreePort, type NatsServerProcess, startNatsServerProcess } from './nats-server-process.ts';

/** The users of the embedded server: AM processes may use JetStream; workers only request commands. */
export interface EmbeddedNatsUsers {
  service: { user: string; password: string };
  worker: { user: string; password: string };
}

export interface EmbeddedNats {
  url: string;
  users: EmbeddedNatsUsers;
  server: NatsServerProcess;
  stop(): Promise<void>;
}

interface EmbeddedState {
  port: number;
  users: EmbeddedNatsUsers;
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
}): Promise<EmbeddedNats> {
  // Before any file is written: a second nats-server on the same store would corrupt it.
  const lock = lockHome(opts.home);
  try {
    const dir = join(opts.home, 'nats');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const statePath = join(dir, 'embedded.json');
    const state = await loadOrCreateState(statePath);
    const configFile = join(dir, 'nats-server.conf');
    const storeDir = join(dir, 'store');
    const pidFile = join(dir, 'nats-server.pid');
    await stopOrphanedServer(pidFile, storeDir);
    writeFileSync(configFile, embeddedNatsConfig(state), { mode: 0o600 });
    const server = await startNatsServerProcess({
      storeDir,
      port: state.port,
      configFile,
      ...(opts.binary === undefined ? {} : { binary: opts.binary }),
      ...(opts.stopTimeoutMs === undefined ? {} : { stopTimeoutMs: opts.stopTimeoutMs }),
    });
    writeFileSync(pidFile, `${server.pid}\n`, { mode: 0o600 });
    let stopping: Promise<void> | null = null;
    return {
      url: server.url,
      users: state.users,
      server,
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
 * Only a live process whose command line names this very store is touched.
 */
async function stopOrphanedServer(pidFile: string, storeDir: string): Promise<void> {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !runsOnStore(pid, storeDir)) {
    rmSync(pidFile, { force: true });
    return;
  }
  process.kill(pid, 'SIGTERM');
  // A clean JetStream shutdown first; SIGKILL only if it does not come.
  for (let waited = 0; waited < 10_000 && runsOnStore(pid, storeDir); waited += 100) await sleep(100);
  if (runsOnStore(pid, storeDir)) process.kill(pid, 'SIGKILL');
  for (let waited = 0; waited < 5_000 && runsOnStore(pid, storeDir); waited += 100) await sleep(100);
  rmSync(pidFile, { force: true });
}

/** Whether `pid` is alive and is a nats-server started on `storeDir` (Linux /proc; elsewhere: never). */
function runsOnStore(pid: number, storeDir: string): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\u0000');
    const at = argv.indexOf('-sd');
    return at >= 0 && argv[at + 1] === storeDir && /nats-server/.test(argv[0] ?? '');
  } catch {
    return false;
  }
}

/**
 * Where a worker on this machine reaches the embedded server of `am up` under `home`, with the worker
 * user's credentials; null when `am up` has not run there.
 */
export function embeddedNatsWorkerAccess(
  home: string,
): { url: string; user: string; password: string } | null {
  const path = join(home, 'nats', 'embedded.json');
  if (!existsSync(path)) return null;
  const state = JSON.parse(readFileSync(path, 'utf8')) as EmbeddedState;
  return { url: `nats://127.0.0.1:${state.port}`, ...state.users.worker };
}

async function loadOrCreateState(path: string): Promise<EmbeddedState> {
  if (existsSync(path)) {
    const state = JSON.parse(readFileSync(path, 'utf8')) as EmbeddedState;
    if (await portIsFree(state.port)) return state;
    const moved = { ...state, port: await findFreePort() };
    writeFileSync(path, JSON.stringify(moved, null, 2), { mode: 0o600 });
    return moved;
  }
  const state: EmbeddedState = {
    port: (await portIsFree(4222)) ? 4222 : await findFreePort(),
    users: {
      service: { user: 'am-service', password: secret() },
      worker: { user: 'am-worker', password: secret() },
    },
  };
  writeFileSync(path, JSON.stringify(state, null, 2), { mode: 0o600 });
  return state;
}

/** The server config: the two users with their permissions (JetStream and its store come from -js -sd). */
export function embeddedNatsConfig(state: EmbeddedState): string {
  return natsServerConfig({
    host: '127.0.0.1',
    port: state.port,
    service: state.users.service,
    workers: [state.users.worker],
    header: ['Generated by AgentManager for the embedded nats-server (am up). Regenerated on every start.'],
  });
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
