import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/http/app.ts';
import { type AppNode, startAppNode } from '../../src/node/app-node.ts';
import { connectNats } from '../../src/store/connect.ts';
import { startTestNats, type TestNats } from './nats.ts';
import { makeTempDir } from './temp-dir.ts';

export interface TestHttpApi {
  nats: TestNats;
  nc: NatsConnection;
  node: AppNode;
  app: FastifyInstance;
  /** The base URL the app listens on (127.0.0.1, a free port). */
  url: string;
  /** Closes the app, the node, the connection and the test nats-server; every step runs. */
  cleanup(): Promise<void>;
}

/** One AM process's HTTP API over a private nats-server and a real SQLite file, on a real port. */
export async function startTestHttpApi(opts: {
  adminToken: string;
  bodyLimitBytes?: number;
}): Promise<TestHttpApi> {
  const nats = await startTestNats();
  const nc = await connectNats({ servers: nats.url });
  const node = await startAppNode({
    nc,
    store: nats.settings,
    dbPath: join(makeTempDir('am-http'), 'read-model.sqlite'),
    adminToken: opts.adminToken,
  });
  const app = await buildApp({
    ctx: node.ctx,
    ...(opts.bodyLimitBytes === undefined ? {} : { bodyLimitBytes: opts.bodyLimitBytes }),
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    nats,
    nc,
    node,
    app,
    url,
    async cleanup() {
      for (const step of [() => app.close(), () => node.close(), () => nc.drain(), () => nats.cleanup()]) {
        await step().catch(() => {});
      }
    },
  };
}
