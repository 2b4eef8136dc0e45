import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, describe, expect, it } from 'vitest';
import { connectNats } from '../../../../src/store/connect.ts';
import { EventStore } from '../../../../src/store/event-store.ts';
import {
  type NatsServerConfigOptions,
  natsServerConfig,
  natsUsersInclude,
} from '../../../../src/store/nats-config.ts';
import {
  findFreePort,
  type NatsServerProcess,
  resolveNatsServerBinary,
  startNatsServerProcess,
} from '../../../../src/store/nats-server-process.ts';
import { makeTempDir, removeTempDir, waitUntil } from '../../../kit/index.ts';

const DEPLOY_DIR = join(import.meta.dirname, '../../../../deploy/nats');
const DEPLOY_ENV = { AM_NATS_SERVICE_PASSWORD: 'service-secret' };

const deployUsers = {
  service: { user: 'am-service', password: { env: 'AM_NATS_SERVICE_PASSWORD' } },
  agents: { include: 'am-users.conf' },
} satisfies Pick<NatsServerConfigOptions, 'service' | 'agents'>;

/** deploy/nats/*.conf are natsServerConfig() output; these are their options. */
const DEPLOY_FILES: Record<string, NatsServerConfigOptions> = {
  'single-node.conf': {
    header: [
      'AgentManager: one nats-server with JetStream and AM users (see deploy/README.md).',
      'Generated from src/store/nats-config.ts. The users are in am-users.conf, which an AM server',
      'rewrites from its agents (AM_NATS_USERS_FILE); the service password comes from the environment',
      '(AM_NATS_SERVICE_PASSWORD).',
    ],
    serverName: 'am-nats-1',
    host: '0.0.0.0',
    port: 4222,
    monitorPort: 8222,
    pidFile: '/data/nats-server.pid',
    storeDir: '/data/jetstream',
    ...deployUsers,
  },
  ...Object.fromEntries(
    [1, 2, 3].map((n) => [
      `cluster-node-${n}.conf`,
      {
        header: [
          `AgentManager: node ${n} of a 3-node JetStream cluster (see deploy/README.md).`,
          'Run AM with AM_REPLICAS=3. Generated from src/store/nats-config.ts. The users are in',
          'am-users.conf, which an AM server rewrites from its agents (AM_NATS_USERS_FILE); the service',
          'password comes from the environment (AM_NATS_SERVICE_PASSWORD).',
          'Routes are not authenticated: keep port 6222 on a private network.',
        ],
        serverName: `am-nats-${n}`,
        host: '0.0.0.0',
        port: 4222,
        monitorPort: 8222,
        pidFile: '/data/nats-server.pid',
        storeDir: '/data/jetstream',
        cluster: {
          name: 'am',
          port: 6222,
          routes: [1, 2, 3].map((m) => `nats-route://am-nats-${m}:6222`),
        },
        ...deployUsers,
      } satisfies NatsServerConfigOptions,
    ]),
  ),
};

describe('deploy/nats configs', () => {
  it.each(Object.keys(DEPLOY_FILES))('%s is what the generator makes of its options', (name) => {
    const expected = natsServerConfig(DEPLOY_FILES[name]!);
    const path = join(DEPLOY_DIR, name);
    // Regenerate after a change to the generator: AM_UPDATE_DEPLOY=1 npx vitest run <this file>
    if (process.env.AM_UPDATE_DEPLOY === '1') writeFileSync(path, expected);
    expect(readFileSync(path, 'utf8')).toBe(expected);
  });

  it('am-users.conf starts with the service user alone (AM adds the agents)', () => {
    const expected = natsUsersInclude({
      service: deployUsers.service,
      agents: [],
      header: [
        'The users of the deploy/nats configs. An AM server with AM_NATS_USERS_FILE pointing here rewrites',
        'it from its agents projection (one user per agent) and, with AM_NATS_PID_FILE, has nats-server',
        'reload it. Until then only the AM processes can connect.',
      ],
    });
    const path = join(DEPLOY_DIR, 'am-users.conf');
    if (process.env.AM_UPDATE_DEPLOY === '1') writeFileSync(path, expected);
    expect(readFileSync(path, 'utf8')).toBe(expected);
  });

  it.each(Object.keys(DEPLOY_FILES))(
    '%s passes nats-server -t with the passwords in the environment',
    (name) => {
      const result = spawnSync(resolveNatsServerBinary(), ['-t', '-c', join(DEPLOY_DIR, name)], {
        env: { ...process.env, ...DEPLOY_ENV },
        encoding: 'utf8',
      });
      expect(`${result.stdout}${result.stderr}`).toMatch(/is valid|test is successful/);
      expect(result.status).toBe(0);
    },
  );
});

describe('natsServerConfig', () => {
  const dirs: string[] = [];
  const servers: NatsServerProcess[] = [];
  const connections: NatsConnection[] = [];

  afterAll(async () => {
    await Promise.allSettled(connections.map((nc) => nc.close()));
    await Promise.allSettled(servers.map((s) => s.kill()));
    for (const dir of dirs) removeTempDir(dir);
  });

  it('keeps a password with config syntax in it intact', async () => {
    const dir = makeTempDir('am-nats-config');
    dirs.push(dir);
    const password = 'p#a}s"s\\w$rd{x: y,[z]';
    const configFile = join(dir, 'nats.conf');
    writeFileSync(configFile, natsServerConfig({ service: { user: 'svc', password }, agents: [] }));
    const server = await startNatsServerProcess({ storeDir: join(dir, 'store'), configFile });
    servers.push(server);
    const nc = await connectNats({ servers: server.url, user: 'svc', pass: password, reconnect: false });
    connections.push(nc);
    await nc.flush();
    await expect(
      connectNats({ servers: server.url, user: 'svc', pass: 'p#a', reconnect: false }),
    ).rejects.toThrow(/authorization/i);
  });

  it('makes a 3-node JetStream cluster that holds the AM stream with 3 replicas', async () => {
    const dir = makeTempDir('am-nats-cluster');
    dirs.push(dir);
    const service = { user: 'am-service', password: 'svc-pass' };
    const worker = { user: 'am-agent-w1', password: 'worker-pass' };
    const routePorts = [await findFreePort(), await findFreePort(), await findFreePort()];
    const started = await Promise.all(
      routePorts.map(async (routePort, i) => {
        const configFile = join(dir, `node-${i + 1}.conf`);
        writeFileSync(
          configFile,
          natsServerConfig({
            serverName: `n${i + 1}`,
            cluster: {
              name: 'am-test',
              host: '127.0.0.1',
              port: routePort,
              routes: routePorts.map((p) => `nats-route://127.0.0.1:${p}`),
            },
            service,
            agents: [worker],
          }),
        );
        return startNatsServerProcess({ storeDir: join(dir, `store-${i + 1}`), configFile });
      }),
    );
    servers.push(...started);
    const nc = await connectNats({
      servers: started.map((s) => s.url),
      user: service.user,
      pass: service.password,
      reconnect: false,
    });
    connections.push(nc);
    const settings = { streamName: 'AM_EVENTS', subjectPrefix: 'am.evt', replicas: 3 };
    // The meta leader is elected a moment after the servers are up; the stream waits for it.
    await waitUntil(
      async () => {
        await EventStore.open(nc, settings);
        return true;
      },
      { timeoutMs: 20_000, intervalMs: 250, message: 'the stream on the cluster' },
    );
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info('AM_EVENTS');
    expect(info.config.num_replicas).toBe(3);
    expect(info.cluster?.replicas?.length).toBe(2);

    const workerNc = await connectNats({
      servers: started[1]!.url,
      user: worker.user,
      pass: worker.password,
      reconnect: false,
    });
    connections.push(workerNc);
    await expect(workerNc.request('$JS.API.STREAM.INFO.AM_EVENTS', '', { timeout: 2_000 })).rejects.toThrow();
  });
});
