import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { type NatsService, startNatsService } from '../../../../src/api/nats/nats-service.ts';
import { OPERATIONS } from '../../../../src/api/operations.ts';
import { type AppNode, startAppNode } from '../../../../src/node/app-node.ts';
import { NatsUsersSync } from '../../../../src/node/nats-users-sync.ts';
import { BOOTSTRAP_ADMIN_ID } from '../../../../src/node/principal.ts';
import { inboxPrefixOf } from '../../../../src/protocol/index.ts';
import { connectNats } from '../../../../src/store/connect.ts';
import { type EmbeddedNats, startEmbeddedNats } from '../../../../src/store/embedded-nats.ts';
import { findFreePort } from '../../../../src/store/nats-server-process.ts';
import { DEFAULT_STORE_SETTINGS } from '../../../../src/store/stream-settings.ts';
import { makeTempDir, removeTempDir } from '../../../kit/index.ts';

/** What registration shows once: the agent's token and its own NATS user and password. */
export interface AgentCredentials {
  agentId: string;
  token: string;
  natsUser: string;
  natsPassword: string;
}

/**
 * One AM process over the embedded nats-server of `am up` (startEmbeddedNats) on a private home, so users
 * and permissions are the real ones and agents come and go through the real path: the AppNode and the
 * NATS service connect as the service user, and a NatsUsersSync rewrites the server's users from the
 * agents projection and reloads it. Tests connect as the service user or as an agent's own user. Always a
 * private server (NATS_URL cannot give these users).
 */
export interface AmOverNats {
  url: string;
  embedded: EmbeddedNats;
  node: AppNode;
  service: NatsService;
  /** The service user's connection the AppNode and the NATS service run on. */
  serviceNc: NatsConnection;
  adminToken: string;
  /** Keeps the server's agent users in step with the agents projection. */
  natsUsers: NatsUsersSync;
  /**
   * A new connection closed by cleanup(): as the service user, as a new worker agent registered for it,
   * or as the agent whose credentials are given (with its own inbox prefix).
   */
  connectAs(
    who: 'worker' | 'service' | AgentCredentials,
    opts?: { name?: string; reconnect?: boolean },
  ): Promise<NatsConnection>;
  /** Registers a worker agent through the operations; resolves once its NATS user is live. */
  registerWorker(agentId?: string): Promise<AgentCredentials>;
  cleanup(): Promise<void>;
}

export async function startAmOverNats(): Promise<AmOverNats> {
  const dir = makeTempDir('am-nats-api');
  const connections = new Set<NatsConnection>();
  let embedded: EmbeddedNats | undefined;
  let node: AppNode | undefined;
  let service: NatsService | undefined;
  let natsUsers: NatsUsersSync | undefined;
  const cleanup = async () => {
    natsUsers?.stop();
    await service?.stop().catch(() => {});
    await node?.close().catch(() => {});
    await Promise.allSettled([...connections].map((nc) => nc.close()));
    await embedded?.server.kill();
    await embedded?.stop();
    removeTempDir(dir);
  };
  try {
    embedded = await startEmbeddedNats({ home: dir, port: await findFreePort() });
    const { url } = embedded;
    const serviceUser = embedded.users.service;
    let agents = 0;
    const connect = async (
      user: string,
      pass: string,
      inboxPrefix: string | undefined,
      name: string,
      reconnect: boolean,
    ) => {
      const nc = await connectNats({
        servers: url,
        user,
        pass,
        name,
        reconnect,
        ...(inboxPrefix === undefined ? {} : { inboxPrefix }),
      });
      connections.add(nc);
      return nc;
    };
    const serviceNc = await connect(serviceUser.user, serviceUser.password, undefined, 'am-service', false);
    const adminToken = `am_${secret()}`;
    node = await startAppNode({
      nc: serviceNc,
      store: { ...DEFAULT_STORE_SETTINGS },
      dbPath: join(dir, 'read-model.sqlite'),
      adminToken,
    });
    service = startNatsService({ ctx: node.ctx, nc: serviceNc });
    const server = embedded;
    const sink = async (agents: Parameters<EmbeddedNats['setAgents']>[0]) => {
      await serviceNc.flush();
      await server.setAgents(agents);
    };
    natsUsers = new NatsUsersSync({
      projector: node.ctx.projector,
      agents: node.ctx.readModel.agents,
      sink,
      log: node.ctx.log,
    });
    await natsUsers.start();
    if (!(await natsUsers.synced())) throw new Error('the NATS users were not written');
    const sync = natsUsers;
    const ctx = node.ctx;
    const registerWorker = async (agentId?: string): Promise<AgentCredentials> => {
      agents += 1;
      const id = agentId ?? `worker-${agents}-${randomBytes(3).toString('hex')}`;
      const reply = await OPERATIONS.RegisterAgent.run(
        ctx,
        { agentId: BOOTSTRAP_ADMIN_ID, role: 'admin' },
        { agentId: id, role: 'worker' },
      );
      await sync.sync();
      if (!(await sync.synced())) throw new Error(`the NATS users were not written after registering ${id}`);
      return { agentId: id, token: reply.token, natsUser: reply.natsUser, natsPassword: reply.natsPassword };
    };
    return {
      url,
      embedded,
      node,
      service,
      serviceNc,
      adminToken,
      natsUsers,
      connectAs: async (who, opts = {}) => {
        const reconnect = opts.reconnect ?? false;
        if (who === 'service') {
          return connect(
            serviceUser.user,
            serviceUser.password,
            undefined,
            opts.name ?? 'am-test-service',
            reconnect,
          );
        }
        const agent = who === 'worker' ? await registerWorker() : who;
        return connect(
          agent.natsUser,
          agent.natsPassword,
          inboxPrefixOf(agent.natsUser),
          opts.name ?? `am-test-${agent.agentId}`,
          reconnect,
        );
      },
      registerWorker,
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
