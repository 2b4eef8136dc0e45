import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '../../src/store/connect.ts';
import { type NatsServerProcess, startNatsServerProcess } from '../../src/store/nats-server-process.ts';
import { DEFAULT_STORE_SETTINGS, type StoreSettings } from '../../src/store/stream-settings.ts';
import { makeTempDir, removeTempDir } from './temp-dir.ts';

export interface StartTestNatsOptions {
  /** The JetStream store of the private server. Default: a new temp dir, removed by cleanup(). */
  storeDir?: string;
}

export interface TestNats {
  url: string;
  streamName: string;
  subjectPrefix: string;
  settings: StoreSettings;
  /** True when NATS_URL (or a container) provides the server: stop/kill/restart are unavailable. */
  external: boolean;
  /** The private server's store dir; null when external. */
  storeDir: string | null;
  /** A connection closed by cleanup(); reconnects forever, like a service's. */
  connect(name?: string): Promise<NatsConnection>;
  /** SIGTERM the private server. */
  stop(): Promise<void>;
  /** SIGKILL the private server (a crash, not a power loss: the OS page cache survives). */
  kill(): Promise<void>;
  /** Starts the private server again on the same port and store. */
  restart(): Promise<void>;
  /** Closes kit connections, stops the server, removes the temp store (or the stream, when external). */
  cleanup(): Promise<void>;
}

/**
 * Whether startTestNats() will hand out a server it does not control (NATS_URL or a container), known
 * before any server starts: for `it.skipIf(testNatsIsExternal())` at collection time.
 */
export function testNatsIsExternal(): boolean {
  return (process.env.NATS_URL ?? '') !== '' || process.env.AM_TEST_NATS === 'container';
}

/**
 * A nats-server for one test file. Default: a private child on a free port with a temp store (stream
 * `AM_EVENTS`, prefix `am.evt`). With NATS_URL: that server, with a unique stream and prefix per call.
 * With AM_TEST_NATS=container: a testcontainers NATS (needs @testcontainers/nats and Docker).
 */
export async function startTestNats(opts: StartTestNatsOptions = {}): Promise<TestNats> {
  const externalUrl = process.env.NATS_URL;
  if (externalUrl !== undefined && externalUrl !== '') return externalTestNats(externalUrl, async () => {});
  if (process.env.AM_TEST_NATS === 'container') return containerTestNats();

  const ownsStore = opts.storeDir === undefined;
  const storeDir = opts.storeDir ?? makeTempDir('am-test-nats');
  let server: NatsServerProcess;
  try {
    server = await startNatsServerProcess({ storeDir });
  } catch (error) {
    if (ownsStore) removeTempDir(storeDir);
    throw error;
  }
  const connections = new Set<NatsConnection>();
  return {
    url: server.url,
    streamName: DEFAULT_STORE_SETTINGS.streamName,
    subjectPrefix: DEFAULT_STORE_SETTINGS.subjectPrefix,
    settings: { ...DEFAULT_STORE_SETTINGS },
    external: false,
    storeDir,
    connect: (name) => trackedConnect(connections, server.url, name),
    stop: () => server.stop(),
    kill: () => server.kill(),
    restart: () => server.restart(),
    cleanup: async () => {
      await closeAll(connections);
      await server.kill();
      if (ownsStore) removeTempDir(storeDir);
    },
  };
}

async function externalTestNats(url: string, stopContainer: () => Promise<void>): Promise<TestNats> {
  const id = randomBytes(6).toString('hex');
  const settings: StoreSettings = { streamName: `AM_T_${id}`, subjectPrefix: `t${id}.evt`, replicas: 1 };
  const connections = new Set<NatsConnection>();
  const unavailable = (what: string) => () =>
    Promise.reject(
      new Error(
        `${what}() needs the kit's private nats-server; this run uses ${url} (NATS_URL). ` +
          'Skip the test with it.skipIf(nats.external).',
      ),
    );
  return {
    url,
    streamName: settings.streamName,
    subjectPrefix: settings.subjectPrefix,
    settings,
    external: true,
    storeDir: null,
    connect: (name) => trackedConnect(connections, url, name),
    stop: unavailable('stop'),
    kill: unavailable('kill'),
    restart: unavailable('restart'),
    cleanup: async () => {
      await closeAll(connections);
      // The server is shared: drop this run's stream (deny_delete guards messages, not the stream).
      try {
        const nc = await connectNats({ servers: url, reconnect: false });
        try {
          const jsm = await jetstreamManager(nc);
          await jsm.streams.delete(settings.streamName).catch(() => false);
        } finally {
          await nc.close();
        }
      } catch {
        // best effort
      }
      await stopContainer();
    },
  };
}

interface StartedNatsContainer {
  getConnectionOptions(): { servers: string | string[]; user?: string; pass?: string };
  stop(): Promise<unknown>;
}

async function containerTestNats(): Promise<TestNats> {
  const dockerReachable = (process.env.DOCKER_HOST ?? '') !== '' || existsSync('/var/run/docker.sock');
  if (!dockerReachable) {
    throw new Error(
      'AM_TEST_NATS=container needs a Docker engine (no DOCKER_HOST, no /var/run/docker.sock).',
    );
  }
  // A variable specifier keeps the optional package out of type checking and bundling.
  const specifier = '@testcontainers/nats';
  let mod: {
    NatsContainer: new (image: string) => { withJetStream(): { start(): Promise<StartedNatsContainer> } };
  };
  try {
    mod = (await import(specifier)) as typeof mod;
  } catch (error) {
    throw new Error('AM_TEST_NATS=container: npm i -D @testcontainers/nats and a Docker engine are needed.', {
      cause: error,
    });
  }
  const container = await new mod.NatsContainer('nats:2.9').withJetStream().start();
  const { servers, user, pass } = container.getConnectionOptions();
  const first = Array.isArray(servers) ? servers[0] : servers;
  if (first === undefined) throw new Error('the NATS container reported no server URL');
  const hostPort = first.replace(/^nats:\/\//, '');
  const url = user === undefined ? `nats://${hostPort}` : `nats://${user}:${pass ?? ''}@${hostPort}`;
  return externalTestNats(url, async () => {
    await container.stop();
  });
}

async function trackedConnect(
  connections: Set<NatsConnection>,
  url: string,
  name: string | undefined,
): Promise<NatsConnection> {
  const nc = await connectNats({
    servers: url,
    name: name ?? 'am-test',
    // Tests restart the server and want the client back quickly.
    reconnectTimeWaitMs: 250,
  });
  connections.add(nc);
  nc.closed().then(() => connections.delete(nc));
  return nc;
}

async function closeAll(connections: Set<NatsConnection>): Promise<void> {
  await Promise.allSettled([...connections].map((nc) => nc.close()));
  connections.clear();
}

/**
 * Publishes `payload` to a stream subject as another writer would, bypassing EventStore.append (and
 * its schema check); resolves with the stored sequence from JetStream's ack.
 */
export async function publishRaw(nc: NatsConnection, subject: string, payload: string): Promise<number> {
  const ack = await nc.request(subject, new TextEncoder().encode(payload), { timeout: 5000 });
  return (JSON.parse(new TextDecoder().decode(ack.data)) as { seq: number }).seq;
}
