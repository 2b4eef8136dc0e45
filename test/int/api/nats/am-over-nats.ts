import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { type NatsService, startNatsService } from '../../../../src/api/nats/nats-service.ts';
import { OPERATIONS } from '../../../../src/api/operations.ts';
import { type AppNode, startAppNode } from '../../../../src/node/app-node.ts';
import { BOOTSTRAP_ADMIN_ID } from '../../../../src/node/principal.ts';
import { connectNats } from '../../../../src/store/connect.ts';
import { type NatsUserCredentials, natsServerConfig } from '../../../../src/store/nats-config.ts';
import {
  findFreePort,
  type NatsServerProcess,
  startNatsServerProcess,
} from '../../../../src/store/nats-server-process.ts';
import { DEFAULT_STORE_SETTINGS } from '../../../../src/store/stream-settings.ts';
import { makeTempDir, removeTempDir } from '../../../kit/index.ts';

/**
 * One AM process over a private nats-server that runs the generated config, so users and permissions
 * are the real ones: the AppNode and the NATS service connect as the service user; tests connect as a
 * worker user or the service user. Always a private server (NATS_URL cannot give these users).
 */
export interface AmOverNats {
  url: string;
  server: NatsServerProcess;
  users: { service: NatsUserCredentials; worker: NatsUserCredentials };
  node: AppNode;
  service: NatsService;
  /** The service user's connection the AppNode and the NATS service run on. */
  serviceNc: NatsConnection;
  adminToken: string;
  /** A new connection as that user, closed by cleanup(). */
  connectAs(user: 'worker' | 'service', name?: string): Promise<NatsConnection>;
  /** Registers a worker agent through the operations and returns its token. */
  registerWorker(agentId?: string): Promise<string>;
  cleanup(): Promise<void>;
}

export async function startAmOverNats(): Promise<AmOverNats> {
  const dir = makeTempDir('am-nats-api');
  const users = {
    service: { user: 'am-service', password: secret() },
    worker: { user: 'am-worker', password: secret() },
  };
  const port = await findFreePort();
  const storeDir = join(dir, 'store');
  const configFile = join(dir, 'nats-server.conf');
  writeFileSync(
    configFile,
    // The store dir goes on the command line (-sd); nats-server refuses it in both places.
    natsServerConfig({ port, service: users.service, workers: [users.worker] }),
    { mode: 0o600 },
  );
  const connections = new Set<NatsConnection>();
  let server: NatsServerProcess | undefined;
  let node: AppNode | undefined;
  let service: NatsService | undefined;
  const cleanup = async () => {
    await service?.stop().catch(() => {});
    await node?.close().catch(() => {});
    await Promise.allSettled([...connections].map((nc) => nc.close()));
    await server?.kill();
    removeTempDir(dir);
  };
  try {
    server = await startNatsServerProcess({ storeDir, configFile, port });
    const url = server.url;
    const connectAs = async (user: 'worker' | 'service', name?: string) => {
      const nc = await connectNats({
        servers: url,
        user: users[user].user,
        pass: users[user].password,
        name: name ?? `am-test-${user}`,
        reconnect: false,
      });
      connections.add(nc);
      return nc;
    };
    const serviceNc = await connectAs('service', 'am-service');
    const adminToken = `am_${secret()}`;
    node = await startAppNode({
      nc: serviceNc,
      store: { ...DEFAULT_STORE_SETTINGS },
      dbPath: join(dir, 'read-model.sqlite'),
      adminToken,
    });
    service = startNatsService({ ctx: node.ctx, nc: serviceNc });
    const ctx = node.ctx;
    let agents = 0;
    return {
      url,
      server,
      users,
      node,
      service,
      serviceNc,
      adminToken,
      connectAs,
      registerWorker: async (agentId) => {
        agents += 1;
        const reply = await OPERATIONS.RegisterAgent.run(
          ctx,
          { agentId: BOOTSTRAP_ADMIN_ID, role: 'admin' },
          { agentId: agentId ?? `worker-${agents}-${randomBytes(3).toString('hex')}`, role: 'worker' },
        );
        return reply.token;
      },
      cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

function secret(): string {
  return randomBytes(18).toString('base64url');
}
