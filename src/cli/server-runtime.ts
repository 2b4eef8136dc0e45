import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApp } from '../api/http/app.ts';
import { type NatsService, startNatsService } from '../api/nats/nats-service.ts';
import { type Config, natsServers } from '../config.ts';
import { AppError } from '../errors.ts';
import { type Manager, type ManagerAgents, startManager } from '../manager/index.ts';
import { type AppNode, startAppNode } from '../node/app-node.ts';
import { type NatsUsersSink, NatsUsersSync } from '../node/nats-users-sync.ts';
import { startTracing } from '../node/tracing-setup.ts';
import { closeNats, connectNats } from '../store/connect.ts';
import { natsUsersFileSink } from '../store/nats-users-file.ts';
import { Cleanups } from './cleanups.ts';
import { hasReplicatedCasBugs, REPLICATED_CAS_WARNING } from './nats-version.ts';
import { serverReadModelFile } from './read-model-file.ts';

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
  /**
   * Told when the projector stopped for good (a failed batch or commit): the read model can no longer be
   * trusted, and the process should exit non-zero for its supervisor to restart it.
   */
  onFatal?: (error: unknown) => void;
  /**
   * Where the agents' NATS users go once the node has caught up, and after every agent event (the embedded
   * server's setAgents). Default: AM_NATS_USERS_FILE when set, else nowhere.
   */
  natsUsers?: NatsUsersSink;
}

export interface ServerRuntime {
  url: string;
  port: number;
  node: AppNode;
  nc: NatsConnection;
  /**
   * Resolves once the node is ready the first time (caught up with the stream); the HTTP API listens
   * before that and answers 503 meanwhile. Rejects if the node stops or its projector fails first.
   */
  ready: Promise<void>;
  /**
   * Resolves true once the NATS users match the agents projection as it stands (false when the write
   * failed, or when this process writes none); it waits for the node to be ready first.
   */
  natsUsersSynced(): Promise<boolean>;
  /** Idempotent and bounded (each step has a deadline); every cleanup runs even when one fails. */
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
  }).catch((error: unknown) => {
    throw new AppError(
      'AM_ERR_STORE_UNAVAILABLE',
      `cannot connect to NATS at ${servers.join(', ')} (${(error as Error).message}) — is nats-server running there with JetStream (-js)? Check NATS_URL${user === undefined ? '' : ', NATS_USER and NATS_PASSWORD'}`,
      { cause: error },
    );
  });
  const natsVersion = nc.info?.version ?? 'unknown';
  if (config.AM_REPLICAS > 1 && hasReplicatedCasBugs(natsVersion)) {
    log.warn({ natsVersion, replicas: config.AM_REPLICAS }, REPLICATED_CAS_WARNING);
  }
  const cleanups = new Cleanups(log);
  // Before the node, which decides once whether to trace; flushed last, after everything that makes spans.
  const tracing = await startTracing(config.AM_OTLP_ENDPOINT);
  cleanups.push('tracing', () => tracing.shutdown(1_500), 2_000);
  cleanups.push('NATS connection', () => closeNats(nc, 2_000), 2_500);
  try {
    const port = opts.port ?? config.AM_HTTP_PORT;
    const dbPath = config.AM_DB ?? serverReadModelFile(config.AM_HOME, port);
    mkdirSync(join(dbPath, '..'), { recursive: true, mode: 0o700 });
    const node = await startAppNode({
      nc,
      store: {
        streamName: config.AM_STREAM,
        subjectPrefix: config.AM_SUBJECT_PREFIX,
        replicas: config.AM_REPLICAS,
      },
      dbPath,
      log,
      // Listen first, so /readyz can say "catching up"; commands wait for readiness (see Readiness).
      catchUp: false,
      readiness: {
        maxLagMs: config.AM_READY_MAX_LAG_MS,
        recoverLagMs: Math.max(1, Math.floor(config.AM_READY_MAX_LAG_MS / 3)),
      },
      ...(opts.onFatal === undefined ? {} : { onProjectorFailure: opts.onFatal }),
      ...(config.AM_ADMIN_TOKEN === undefined ? {} : { adminToken: config.AM_ADMIN_TOKEN }),
      // The planner's and auditor's model calls, counted by the agents' client, shown on this node's /metrics.
      ...(opts.agents.llmMetrics === undefined ? {} : { llmMetrics: opts.agents.llmMetrics }),
    });
    cleanups.push('read model', () => node.close(), 2_000);
    const natsService: NatsService = startNatsService({
      ctx: node.ctx,
      nc,
      maxBytes: config.AM_BODY_LIMIT_BYTES,
      rateLimitPerSec: config.AM_RATE_LIMIT_PER_SEC,
    });
    cleanups.push('NATS service', () => natsService.stop(), 2_000);
    const ready = node.ctx.readiness.whenReady();
    // Nobody may be listening to `ready` (a failed start is reported by the caller's own path).
    ready.catch(() => {});
    const target = opts.natsUsers ?? natsUsersFileOf(config, user ?? 'am-service');
    // Replies already sent on this connection (e.g. 401s to the waiting claims of an agent just revoked)
    // reach NATS before a reload cuts that agent off.
    const natsUsersSink: NatsUsersSink | undefined =
      target &&
      (async (agents) => {
        await nc.flush();
        await target(agents);
      });
    const natsUsers =
      natsUsersSink === undefined
        ? null
        : new NatsUsersSync({
            projector: node.ctx.projector,
            agents: node.ctx.readModel.agents,
            sink: natsUsersSink,
            log,
          });
    // Only from a caught-up read model: one still replaying knows too few agents.
    const natsUsersStarted = natsUsers === null ? null : ready.then(() => natsUsers.start());
    natsUsersStarted?.catch(() => {});
    if (natsUsers) cleanups.push('NATS users', async () => natsUsers.stop(), 500);
    let manager: Manager | null = null;
    let stopping: Promise<void> | null = null;
    if (opts.manager ?? config.AM_MANAGER) {
      // The manager reconciles on the read model: it starts once the node has caught up.
      void ready.then(
        () => {
          if (stopping !== null) return;
          manager = startManager({
            ctx: node.ctx,
            agents: opts.agents,
            intervalMs: config.AM_RECONCILE_INTERVAL_MS,
            markerMs: config.AM_MANAGER_MARKER_MS,
            // One LLM call may take AM_LLM_TIMEOUT_MS per answer, times the corrective retries.
            llmTimeoutMs: config.AM_LLM_TIMEOUT_MS * 4,
            log,
          });
        },
        () => {},
      );
      cleanups.push('manager', async () => manager?.stop(), 2_000);
    }
    const tls = tlsFiles(config);
    const app: FastifyInstance = await buildApp({
      ctx: node.ctx,
      bodyLimitBytes: config.AM_BODY_LIMIT_BYTES,
      rateLimitPerSec: config.AM_RATE_LIMIT_PER_SEC,
      ...(config.AM_MCP_ALLOWED_ORIGINS === undefined
        ? {}
        : { mcpAllowedOrigins: config.AM_MCP_ALLOWED_ORIGINS }),
      ...(config.AM_SESSION_SECRET === undefined ? {} : { sessionSecret: config.AM_SESSION_SECRET }),
      ...(tls === undefined ? {} : { tls }),
    });
    await app.listen({ port, host: config.AM_HTTP_HOST });
    // Stop taking HTTP requests first: it is the last cleanup pushed, so it runs first.
    cleanups.push('HTTP server', () => app.close(), 1_500);
    const address = app.server.address();
    const boundPort = typeof address === 'object' && address !== null ? address.port : port;
    const host = config.AM_HTTP_HOST === '0.0.0.0' ? '127.0.0.1' : config.AM_HTTP_HOST;
    return {
      url: `${tls === undefined ? 'http' : 'https'}://${host}:${boundPort}`,
      port: boundPort,
      node,
      nc,
      ready,
      async natsUsersSynced() {
        if (natsUsers === null || natsUsersStarted === null) return false;
        try {
          await natsUsersStarted;
        } catch {
          return false; // the node stopped before it was ready
        }
        return natsUsers.synced();
      },
      stop() {
        stopping ??= (async () => {
          // Not ready from here on: the NATS service leaves the queue group, HTTP commands answer 503.
          node.ctx.readiness.stop();
          await cleanups.runAll();
        })();
        return stopping;
      },
    };
  } catch (error) {
    await cleanups.runAll();
    throw error;
  }
}

/** AM_NATS_USERS_FILE (and AM_NATS_PID_FILE): the users file of a nats-server this process does not own. */
function natsUsersFileOf(config: Config, serviceUser: string): NatsUsersSink | undefined {
  if (config.AM_NATS_USERS_FILE === undefined) return undefined;
  return natsUsersFileSink({
    path: config.AM_NATS_USERS_FILE,
    serviceUser,
    ...(config.AM_NATS_PID_FILE === undefined ? {} : { pidFile: config.AM_NATS_PID_FILE }),
  });
}

/** The HTTPS certificate and key of AM_TLS_CERT / AM_TLS_KEY (both or neither), read once at start. */
function tlsFiles(config: Config): { cert: Buffer; key: Buffer } | undefined {
  const { AM_TLS_CERT: certPath, AM_TLS_KEY: keyPath } = config;
  if (certPath === undefined && keyPath === undefined) return undefined;
  if (certPath === undefined || keyPath === undefined) {
    throw new AppError(
      'AM_ERR_CONFIG_INVALID',
      `${certPath === undefined ? 'AM_TLS_CERT' : 'AM_TLS_KEY'}: required with ${certPath === undefined ? 'AM_TLS_KEY' : 'AM_TLS_CERT'} (HTTPS needs both)`,
    );
  }
  const read = (key: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new AppError('AM_ERR_CONFIG_INVALID', `${key}: cannot read ${path}: ${(error as Error).message}`);
    }
  };
  return { cert: read('AM_TLS_CERT', certPath), key: read('AM_TLS_KEY', keyPath) };
}
