import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { type AppNode, startAppNode } from '../api/app-node.ts';
import { buildApp } from '../api/http/app.ts';
import { type NatsService, startNatsService } from '../api/nats/nats-service.ts';
import { type Config, natsServers } from '../config.ts';
import { type Manager, type ManagerAgents, startManager } from '../manager/index.ts';
import { connectNats } from '../store/connect.ts';

export interface ServerRuntimeOptions {
  config: Config;
  log: Logger;
  /** Overrides AM_HTTP_PORT. */
  port?: number;
  /** Run the manager's reconcilers (default: AM_MANAGER). */
  manager?: boolean;
  /** The LLM work for the manager (planner, auditor). */
  agents: ManagerAgents;
  /** NATS connection settings; default from config (NATS_URL, NATS_USER, NATS_PASSWORD). */
  nats?: { servers: string[]; user?: string; pass?: string };
}

export interface ServerRuntime {
  url: string;
  port: number;
  node: AppNode;
  nc: NatsConnection;
  /** Idempotent; every cleanup runs even when one fails. */
  stop(): Promise<void>;
}

/**
 * One AM server process: its own read model and projector, the HTTP API, the NATS command service and
 * (optionally) the manager — sharing nothing with other AM processes but JetStream.
 */
export async function startServerRuntime(opts: ServerRuntimeOptions): Promise<ServerRuntime> {
  const { config, log } = opts;
  const servers = opts.nats?.servers ?? natsServers(config);
  const user = opts.nats?.user ?? config.NATS_USER;
  const pass = opts.nats?.pass ?? config.NATS_PASSWORD;
  const nc = await connectNats({
    servers,
    name: 'am-server',
    ...(user === undefined ? {} : { user }),
    ...(pass === undefined ? {} : { pass }),
    ...(config.NATS_TOKEN === undefined ? {} : { token: config.NATS_TOKEN }),
  });
  const cleanups: Array<() => Promise<void>> = [async () => nc.drain()];
  const stopAll = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (error) {
        log.warn({ err: error }, 'cleanup failed');
      }
    }
  };
  try {
    const port = opts.port ?? config.AM_HTTP_PORT;
    const dbPath = config.AM_DB ?? join(config.AM_HOME, `read-model-${port}.sqlite`);
    mkdirSync(join(dbPath, '..'), { recursive: true });
    const node = await startAppNode({
      nc,
      store: {
        streamName: config.AM_STREAM,
        subjectPrefix: config.AM_SUBJECT_PREFIX,
        replicas: config.AM_REPLICAS,
      },
      dbPath,
      log,
      ...(config.AM_ADMIN_TOKEN === undefined ? {} : { adminToken: config.AM_ADMIN_TOKEN }),
    });
    cleanups.push(() => node.close());
    const natsService: NatsService = startNatsService({
      ctx: node.ctx,
      nc,
      maxBytes: config.AM_BODY_LIMIT_BYTES,
      rateLimitPerSec: config.AM_RATE_LIMIT_PER_SEC,
    });
    cleanups.push(() => natsService.stop());
    let manager: Manager | null = null;
    if (opts.manager ?? config.AM_MANAGER) {
      manager = startManager({
        ctx: node.ctx,
        agents: opts.agents,
        intervalMs: config.AM_RECONCILE_INTERVAL_MS,
        markerMs: config.AM_MANAGER_MARKER_MS,
        // One LLM call may take AM_LLM_TIMEOUT_MS per answer, times the corrective retries.
        llmTimeoutMs: config.AM_LLM_TIMEOUT_MS * 4,
        log,
      });
      const running = manager;
      cleanups.push(() => running.stop());
    }
    const app: FastifyInstance = await buildApp({
      ctx: node.ctx,
      bodyLimitBytes: config.AM_BODY_LIMIT_BYTES,
      rateLimitPerSec: config.AM_RATE_LIMIT_PER_SEC,
    });
    await app.listen({ port, host: config.AM_HTTP_HOST });
    // Stop taking HTTP requests first: it is the last cleanup pushed, so it runs first.
    cleanups.push(() => app.close());
    const address = app.server.address();
    const boundPort = typeof address === 'object' && address !== null ? address.port : port;
    const host = config.AM_HTTP_HOST === '0.0.0.0' ? '127.0.0.1' : config.AM_HTTP_HOST;
    let stopping: Promise<void> | null = null;
    return {
      url: `http://${host}:${boundPort}`,
      port: boundPort,
      node,
      nc,
      stop() {
        stopping ??= stopAll();
        return stopping;
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
