import { randomBytes } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { AppError } from '../../errors.ts';
import type { AppContext } from '../../node/app-context.ts';
import { bearerToken, type Principal } from '../../node/principal.ts';
import { AgentRateLimit } from '../agent-rate-limit.ts';
import { registerMcpEndpoint } from '../mcp/http-endpoint.ts';
import { invoke, OPERATIONS, type Operation } from '../operations.ts';
import { parseInput } from '../parse-input.ts';
import { registerDashboardAssets } from './dashboard-assets.ts';
import { registerSecurityHeaders } from './dashboard-headers.ts';
import { openApiDocument, type RouteDoc } from './openapi-spec.ts';
import { clientErrorHandler, errorHandler, frameworkErrorHandler, sendProblem } from './problem-json.ts';
import { HttpMetrics } from './prom-metrics.ts';
import { SessionAuth } from './session-auth.ts';
import { SessionCodec, sessionCookieOf } from './session-cookie.ts';
import { DEFAULT_SESSION_TTL_MS, registerSessionRoutes } from './session-routes.ts';
import { EVENT_STREAM_DOC, registerEventStream } from './sse.ts';

export interface BuildAppOptions {
  ctx: AppContext;
  /** Largest accepted body. Default 1 MiB. */
  bodyLimitBytes?: number;
  /** Requests per second per agent. Default 1000. */
  rateLimitPerSec?: number;
  /**
   * Fastify logger: false (default), or pino options. Authorization and Cookie headers (the dashboard's
   * session) are always redacted.
   */
  logger?: boolean | Record<string, unknown>;
  /**
   * Browser origins besides the server's own that may call /mcp (canonical `scheme://host[:port]`, as
   * config's AM_MCP_ALLOWED_ORIGINS holds them). Default: none.
   */
  mcpAllowedOrigins?: readonly string[];
  /**
   * The key that signs dashboard session cookies (config's AM_SESSION_SECRET). Servers behind one address
   * need the same one. Default: random, so sessions last as long as this app.
   */
  sessionSecret?: string;
  /** How long a dashboard session lasts. Default 12 hours. */
  sessionTtlMs?: number;
  /** Serve HTTPS with this certificate chain and key (PEM). Default: plain HTTP. */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** Builds the HTTP API over one AppNode. Only the server entry calls `listen`. */
export async function buildApp(opts: BuildAppOptions): Promise<FastifyInstance> {
  const { ctx } = opts;
  const app = Fastify({
    // The HTTPS instance has the same API as the HTTP one; only Fastify's type for its server differs.
    ...((opts.tls === undefined ? {} : { https: opts.tls }) as Record<string, never>),
    bodyLimit: opts.bodyLimitBytes ?? 1024 * 1024,
    logger:
      opts.logger === undefined || opts.logger === false
        ? false
        : {
            ...(opts.logger === true ? {} : opts.logger),
            redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
          },
    return503OnClosing: true,
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
    // Closing must not wait for keep-alive sockets or long-polls: a cut claim or result is retried by its
    // worker, and both are idempotent (requestId, claim token).
    forceCloseConnections: true,
  });
  const limiter = new AgentRateLimit(opts.rateLimitPerSec ?? 1_000);
  const metrics = new HttpMetrics(ctx);
  const docs: RouteDoc[] = [];
  // An empty body with content-type application/json means no body, as for the routes that take none
  // (cancel, retry, revoke): role checks and validation then decide, not the parser. Other JSON is parsed
  // by Fastify's own parser (prototype-poisoning checks, its 400 for malformed JSON).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, payload, done) => {
    if (payload.length === 0) {
      done(null, undefined);
      return;
    }
    parseJson(request, payload.toString(), done);
  });
  app.setErrorHandler(errorHandler);
  // The URL is not echoed: whatever a client sends to a route that does not exist stays out of the reply.
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      new AppError('AM_ERR_ROUTE_NOT_FOUND', `no such route for ${request.method}; /docs lists the routes`),
    ),
  );
  app.addHook('onResponse', async (request, reply) => {
    metrics.requestDuration
      .labels(request.method, request.routeOptions.url ?? 'unknown', String(reply.statusCode))
      .observe(reply.elapsedTime / 1000);
  });

  registerSecurityHeaders(app);
  const codec = new SessionCodec(opts.sessionSecret ?? randomBytes(32).toString('base64url'));
  const sessions = new SessionAuth(ctx, codec);

  /** Applies the per-agent rate limit and records the principal. */
  const admit = (principal: Principal, request: FastifyRequest, reply: FastifyReply): Principal => {
    const wait = limiter.take(principal.agentId);
    if (wait > 0) {
      reply.header('retry-after', String(wait));
      throw new AppError(
        'AM_ERR_RATE_LIMITED',
        `more than ${opts.rateLimitPerSec ?? 1_000} requests per second`,
      );
    }
    request.principal = principal;
    return principal;
  };
  /** A bearer token or the dashboard's session cookie (with its CSRF proof for state changes). */
  const authenticated = async (request: FastifyRequest, reply: FastifyReply): Promise<Principal> =>
    admit(sessions.authenticate(request).principal, request, reply);
  /** A bearer token only: for clients that are not the dashboard (MCP). */
  const bearerAuthenticated = async (request: FastifyRequest, reply: FastifyReply): Promise<Principal> =>
    admit(ctx.auth.authenticate(bearerToken(request.headers.authorization)), request, reply);

  function route<S extends z.ZodType, O>(
    method: 'GET' | 'POST',
    url: string,
    op: Operation<S, O>,
    spec: { status: number; input: (request: FastifyRequest) => unknown; summary: string; reply?: z.ZodType },
  ): void {
    docs.push({
      method,
      url,
      op: op.name,
      status: spec.status,
      summary: spec.summary,
      input: op.input,
      reply: spec.reply,
    });
    app.route({
      method,
      url,
      handler: async (request, reply) => {
        const principal = await authenticated(request, reply);
        const input = parseInput(op.input, spec.input(request));
        const abort = new AbortController();
        reply.raw.on('close', () => {
          if (!reply.raw.writableFinished) abort.abort();
        });
        const traceparent = request.headers.traceparent;
        const result = await invoke(
          op,
          ctx,
          principal,
          input,
          abort.signal,
          typeof traceparent === 'string' ? traceparent : undefined,
        );
        reply.header('am-projection-seq', String(ctx.projector.appliedSeq));
        if (result === null) return reply.code(204).send();
        return reply.code(spec.status).send(result);
      },
    });
  }

  const body = (request: FastifyRequest) => request.body ?? {};
  const bodyWith = (request: FastifyRequest) => ({
    ...(objectOf(request.body) ?? {}),
    ...objectOf(request.params),
  });
  const query = (request: FastifyRequest) => ({ ...objectOf(request.query), ...objectOf(request.params) });

  route('POST', '/v1/tasks', OPERATIONS.PlanTask, {
    status: 202,
    input: body,
    summary: 'Submit a goal or an explicit graph',
  });
  route('POST', '/v1/tasks/claim', OPERATIONS.ClaimTask, {
    status: 200,
    input: body,
    summary: 'Claim a READY task (long-poll up to waitMs); 204 when none',
  });
  route('POST', '/v1/tasks/:taskId/heartbeat', OPERATIONS.ExtendLease, {
    status: 200,
    input: bodyWith,
    summary: 'Extend the lease of a claim; cancelled: true means stop',
  });
  route('POST', '/v1/tasks/:taskId/progress', OPERATIONS.ReportProgress, {
    status: 202,
    input: bodyWith,
    summary: 'Record one ReAct step',
  });
  route('POST', '/v1/tasks/:taskId/release', OPERATIONS.ReleaseTask, {
    status: 202,
    input: bodyWith,
    summary: 'Give a claimed task back at once (no attempt used)',
  });
  route('POST', '/v1/results', OPERATIONS.SubmitResult, {
    status: 202,
    input: body,
    summary: 'Submit a result',
  });
  route('GET', '/v1/graphs', OPERATIONS.ListGraphs, { status: 200, input: query, summary: 'List graphs' });
  route('GET', '/v1/graphs/:id', OPERATIONS.GetGraph, {
    status: 200,
    input: query,
    summary: 'The whole TaskGraph',
  });
  route('GET', '/v1/graphs/:id/events', OPERATIONS.GetGraphEvents, {
    status: 200,
    input: query,
    summary: 'The audit trail of a graph, from the stream',
  });
  route('POST', '/v1/graphs/:id/cancel', OPERATIONS.CancelGraph, {
    status: 202,
    input: bodyWith,
    summary: 'Cancel a graph',
  });
  route('POST', '/v1/graphs/:id/retry', OPERATIONS.RetryGraph, {
    status: 202,
    input: (request) => objectOf(request.params),
    summary: 'Give the failed tasks of a task_failed graph a new attempt budget',
  });
  route('POST', '/v1/agents', OPERATIONS.RegisterAgent, {
    status: 201,
    input: body,
    summary: 'Register an agent',
  });
  route('GET', '/v1/agents', OPERATIONS.ListAgents, {
    status: 200,
    input: () => ({}),
    summary: 'List agents',
  });
  route('POST', '/v1/agents/:id/revoke', OPERATIONS.RevokeAgent, {
    status: 202,
    input: (request) => objectOf(request.params),
    summary: 'Revoke an agent',
  });
  route('POST', '/v1/agents/:id/rotate', OPERATIONS.RotateAgent, {
    status: 200,
    input: (request) => objectOf(request.params),
    summary: 'New token and NATS password for an agent (shown once; the old ones stop working)',
  });

  registerEventStream(app, ctx, authenticated);

  const mcp = registerMcpEndpoint(app, {
    ctx,
    authenticate: bearerAuthenticated,
    allowedOrigins: opts.mcpAllowedOrigins ?? [],
  });
  app.addHook('onClose', () => mcp.close());
  docs.push(EVENT_STREAM_DOC);

  registerSessionRoutes(app, { ctx, codec, sessions, ttlMs: opts.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS });
  await registerDashboardAssets(app);

  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (request, reply) => {
    // Probes (load balancers, Docker, Kubernetes) carry no token: they get the verdict alone. The details
    // (sequences, lag, why) are for callers with a token or a dashboard session, checked like any route.
    const withCredentials =
      request.headers.authorization !== undefined || sessionCookieOf(request.headers.cookie) !== undefined;
    if (withCredentials) await authenticated(request, reply);
    const snapshot = ctx.readiness.snapshot();
    if (!snapshot.ready) reply.header('retry-after', '1');
    return reply
      .code(snapshot.ready ? 200 : 503)
      .send(withCredentials ? snapshot : { ready: snapshot.ready });
  });
  app.get('/metrics', async (request, reply) => {
    await authenticated(request, reply);
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  // The document is built from zod schemas; @fastify/swagger's type wants its own OpenAPI typings.
  await app.register(swagger, {
    mode: 'static',
    specification: { document: openApiDocument(docs) as never },
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiHooks: {
      onRequest: async (request, reply) => {
        await authenticated(request, reply);
      },
    },
  });
  return app;
}

function objectOf(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}
