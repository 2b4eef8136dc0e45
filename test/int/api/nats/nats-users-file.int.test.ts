import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATIONS } from '../../../../src/api/operations.ts';
import { type AppNode, startAppNode } from '../../../../src/node/app-node.ts';
import { NatsUsersSync } from '../../../../src/node/nats-users-sync.ts';
import { BOOTSTRAP_ADMIN_ID } from '../../../../src/node/principal.ts';
import { inboxPrefixOf } from '../../../../src/protocol/index.ts';
import { connectNats } from '../../../../src/store/connect.ts';
import { natsServerConfig, natsUsersInclude } from '../../../../src/store/nats-config.ts';
import { type NatsServerProcess, startNatsServerProcess } from '../../../../src/store/nats-server-process.ts';
import { natsUsersFileSink } from '../../../../src/store/nats-users-file.ts';
import { DEFAULT_STORE_SETTINGS } from '../../../../src/store/stream-settings.ts';
import { makeTempDir, removeTempDir, waitUntil } from '../../../kit/index.ts';

const ADMIN = { agentId: BOOTSTRAP_ADMIN_ID, role: 'admin' } as const;

/**
 * A nats-server AM does not own, set up as deploy/nats does (users in an included file, the service
 * password from the server's environment, a pid file): an AM node with AM_NATS_USERS_FILE's sink keeps
 * the file equal to its agents and has the server reload it.
 */
describe('AM_NATS_USERS_FILE: the users file of a server AM does not own', () => {
  const servicePassword = randomBytes(18).toString('base64url');
  let dir: string;
  let server: NatsServerProcess;
  let node: AppNode;
  let sync: NatsUsersSync;
  const connections: NatsConnection[] = [];
  let usersFile: string;

  beforeAll(async () => {
    dir = makeTempDir('am-nats-users-file');
    usersFile = join(dir, 'am-users.conf');
    const pidFile = join(dir, 'nats-server.pid');
    const service = { user: 'am-service', password: { env: 'AM_NATS_SERVICE_PASSWORD' } };
    writeFileSync(usersFile, natsUsersInclude({ service, agents: [] }));
    const configFile = join(dir, 'nats.conf');
    writeFileSync(
      configFile,
      natsServerConfig({
        storeDir: join(dir, 'store'),
        pidFile,
        service,
        agents: { include: 'am-users.conf' },
      }),
    );
    // The server reads the service password from its environment, as deploy/nats documents.
    process.env.AM_NATS_SERVICE_PASSWORD = servicePassword;
    try {
      server = await startNatsServerProcess({
        storeDir: join(dir, 'store'),
        storeDirInConfig: true,
        configFile,
      });
    } finally {
      delete process.env.AM_NATS_SERVICE_PASSWORD;
    }
    const nc = await connectNats({
      servers: server.url,
      user: 'am-service',
      pass: servicePassword,
      reconnect: false,
    });
    connections.push(nc);
    node = await startAppNode({
      nc,
      store: { ...DEFAULT_STORE_SETTINGS },
      dbPath: join(dir, 'read-model.sqlite'),
    });
    sync = new NatsUsersSync({
      projector: node.ctx.projector,
      agents: node.ctx.readModel.agents,
      sink: natsUsersFileSink({ path: usersFile, serviceUser: 'am-service', pidFile }),
      log: node.ctx.log,
    });
    await sync.start();
  });

  afterAll(async () => {
    sync?.stop();
    await node?.close();
    await Promise.allSettled(connections.map((nc) => nc.close()));
    await server?.kill();
    removeTempDir(dir);
  });

  async function connectAgent(user: string, pass: string): Promise<NatsConnection> {
    const nc = await connectNats({
      servers: server.url,
      user,
      pass,
      inboxPrefix: inboxPrefixOf(user),
      reconnect: false,
    });
    connections.push(nc);
    return nc;
  }

  it('lets a registered agent in once the file is written and reloaded, and shuts it out on revocation', async () => {
    const reply = await OPERATIONS.RegisterAgent.run(node.ctx, ADMIN, { agentId: 'w1', role: 'worker' });
    expect(await sync.synced()).toBe(true);
    const file = readFileSync(usersFile, 'utf8');
    expect(file).toContain('user: "am-agent-w1"');
    expect(file).toContain('"_INBOX.am-agent-w1.>"');
    expect(file).not.toContain(reply.natsPassword);
    expect(file).toContain('password: $AM_NATS_SERVICE_PASSWORD');
    // SIGHUP is fire-and-forget here (the server is not this process's child): wait for the reload.
    let agentNc: NatsConnection | null = null;
    await waitUntil(
      async () => {
        agentNc = await connectAgent(reply.natsUser, reply.natsPassword).catch(() => null);
        return agentNc !== null;
      },
      { timeoutMs: 5_000, message: 'the agent let in' },
    );
    const closed = agentNc!.closed();
    const revokedAt = Date.now();
    await OPERATIONS.RevokeAgent.run(node.ctx, ADMIN, { id: 'w1' });
    // The server closes the removed user's connection (this client does not reconnect).
    await closed;
    expect(agentNc!.isClosed()).toBe(true);
    expect(Date.now() - revokedAt).toBeLessThan(5_000);
    expect(readFileSync(usersFile, 'utf8')).not.toContain('am-agent-w1');
    await expect(connectAgent(reply.natsUser, reply.natsPassword)).rejects.toThrow(/authorization/i);
  });
});
