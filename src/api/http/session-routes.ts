import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../../node/app-context.ts';
import { hashToken } from '../../node/principal.ts';
import { parseInput } from '../parse-input.ts';
import { requireDashboardRequest, type SessionAuth } from './session-auth.ts';
import { type SessionCodec, sessionSetCookie } from './session-cookie.ts';

/** Default session length: a working day. */
export const DEFAULT_SESSION_TTL_MS = 12 * 60 * 60 * 1000;

const LoginBodySchema = z.strictObject({ token: z.string().min(1).max(4_096) });

export interface SessionRoutesOptions {
  ctx: AppContext;
  codec: SessionCodec;
  sessions: SessionAuth;
  ttlMs: number;
}

/**
 * The dashboard's session routes:
 * - `POST /dashboard/login { token }` → 200 `{ agentId, role, expiresAt }` and the session cookie;
 * - `GET /dashboard/session` → who the cookie (or a bearer token) is, 401 without either;
 * - `POST /dashboard/logout` → 204 and the cookie cleared.
 * Login and logout need the dashboard's CSRF proof like every cookie request that changes state: a
 * cross-site form must not log a browser in as someone else, or out.
 */
export function registerSessionRoutes(app: FastifyInstance, opts: SessionRoutesOptions): void {
  const { ctx, codec, sessions, ttlMs } = opts;

  app.post('/dashboard/login', async (request, reply) => {
    requireDashboardRequest(request);
    const { token } = parseInput(LoginBodySchema, request.body ?? {});
    const principal = ctx.auth.authenticate(token);
    const expiresAt = ctx.clock.now() + ttlMs;
    const value = codec.issue(principal.agentId, hashToken(token), expiresAt);
    reply.header(
      'set-cookie',
      sessionSetCookie(value, { maxAgeSec: ttlMs / 1000, secure: overHttps(request) }),
    );
    reply.header('cache-control', 'no-store');
    return { agentId: principal.agentId, role: principal.role, expiresAt: new Date(expiresAt).toISOString() };
  });

  app.get('/dashboard/session', async (request, reply) => {
    const { principal, via, expiresAt } = sessions.authenticate(request);
    reply.header('cache-control', 'no-store');
    return {
      agentId: principal.agentId,
      role: principal.role,
      via,
      expiresAt: expiresAt === undefined ? null : new Date(expiresAt).toISOString(),
    };
  });

  app.post('/dashboard/logout', async (request, reply) => {
    requireDashboardRequest(request);
    reply.header('set-cookie', sessionSetCookie(null, { maxAgeSec: 0, secure: overHttps(request) }));
    return reply.code(204).send();
  });
}

/**
 * Whether the browser reached us over https, directly or through a proxy that says so. Trusting the
 * proxy's header here can only add `Secure`, which never weakens the cookie.
 */
function overHttps(request: FastifyRequest): boolean {
  if (request.protocol === 'https') return true;
  const forwarded = request.headers['x-forwarded-proto'];
  return typeof forwarded === 'string' && forwarded.split(',')[0]?.trim().toLowerCase() === 'https';
}
