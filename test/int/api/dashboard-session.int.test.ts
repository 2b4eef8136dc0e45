import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../../src/api/http/app.ts';
import { SESSION_COOKIE, SessionCodec } from '../../../src/api/http/session-cookie.ts';
import { type AppNode, startAppNode } from '../../../src/node/app-node.ts';
import { hashToken } from '../../../src/node/principal.ts';
import { connectNats } from '../../../src/store/connect.ts';
import { makeTempDir, startTestNats, type TestNats, waitUntil } from '../../kit/index.ts';

const ADMIN = 'dashboard-session-admin-token-0123456789';
const SECRET = 'dashboard-session-secret-0123456789-abcdef';
const OTHER_SECRET = 'another-secret-of-another-deployment-0123456789';

interface Reply {
  status: number;
  headers: Headers;
  body: Record<string, unknown> & { code?: string; detail?: string };
  text: string;
}

interface CallOptions {
  cookie?: string;
  token?: string;
  csrf?: boolean;
  headers?: Record<string, string>;
  body?: unknown;
}

/** One AM server: a node of its own (its own SQLite) and an app, all on the test's one stream. */
interface Server {
  node: AppNode;
  app: FastifyInstance;
  url: string;
}

/**
 * The dashboard's session cookie against real servers (two nodes on one nats-server, sharing the secret):
 * login and logout, forged, tampered and expired cookies, revocation and rotation, CSRF proof for state
 * changes, and what the cookie opens (/docs, the reads, the event stream) and does not (/mcp).
 */
describe('dashboard sessions', () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let first: Server;
  let second: Server;
  let workerToken: string;

  const call = async (
    server: Server,
    method: string,
    path: string,
    opts: CallOptions = {},
  ): Promise<Reply> => {
    const host = new URL(server.url).host;
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        ...(opts.cookie === undefined ? {} : { cookie: `${SESSION_COOKIE}=${opts.cookie}` }),
        ...(opts.token === undefined ? {} : { authorization: `Bearer ${opts.token}` }),
        ...(opts.csrf ? { 'x-am-csrf': '1', origin: `http://${host}` } : {}),
        ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...opts.headers,
      },
      ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
    });
    const text = await response.text();
    const type = response.headers.get('content-type') ?? '';
    return {
      status: response.status,
      headers: response.headers,
      body: type.includes('json') && text ? JSON.parse(text) : {},
      text,
    };
  };

  /** Logs in with `token` and returns the cookie's value. */
  const login = async (server: Server, token: string): Promise<string> => {
    const reply = await call(server, 'POST', '/dashboard/login', { csrf: true, body: { token } });
    expect(reply.status).toBe(200);
    const value = /am_session=([^;]+)/.exec(reply.headers.get('set-cookie') ?? '')?.[1];
    expect(value).toBeDefined();
    return value!;
  };

  const register = async (agentId: string, role: 'admin' | 'worker'): Promise<string> => {
    const reply = await call(first, 'POST', '/v1/agents', { token: ADMIN, body: { agentId, role } });
    expect(reply.status).toBe(201);
    // Both servers must know the agent before a test uses it on either.
    await appliedEverywhere(Number(first.node.ctx.projector.appliedSeq));
    return String(reply.body.token);
  };

  const appliedEverywhere = (seq: number) =>
    waitUntil(() => [first, second].every((s) => s.node.ctx.projector.appliedSeq >= seq), {
      message: `both servers applied ${seq}`,
    });

  const startServer = async (name: string, secret: string): Promise<Server> => {
    const node = await startAppNode({
      nc,
      store: nats.settings,
      dbPath: join(makeTempDir(`am-dash-${name}`), 'read-model.sqlite'),
      adminToken: ADMIN,
    });
    const app = await buildApp({ ctx: node.ctx, sessionSecret: secret });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    return { node, app, url };
  };

  beforeAll(async () => {
    nats = await startTestNats();
    nc = await connectNats({ servers: nats.url });
    first = await startServer('first', SECRET);
    second = await startServer('second', SECRET);
    workerToken = await register('dash-worker', 'worker');
  });

  afterAll(async () => {
    for (const server of [first, second]) {
      await server?.app.close().catch(() => {});
      await server?.node.close().catch(() => {});
    }
    await nc?.drain().catch(() => {});
    await nats?.cleanup();
  });

  describe('without a cookie or a token', () => {
    it('answers 401 AM_ERR_AUTH_MISSING on the API, the event stream, /docs and the session route', async () => {
      for (const path of ['/v1/graphs', '/v1/agents', '/docs', '/dashboard/session']) {
        const reply = await call(first, 'GET', path);
        expect({ path, status: reply.status, code: reply.body.code }).toEqual({
          path,
          status: 401,
          code: 'AM_ERR_AUTH_MISSING',
        });
      }
    });

    it('serves the dashboard page and its scripts (they hold no data) with a strict CSP', async () => {
      const page = await call(first, 'GET', '/');
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.text).toContain('/dashboard/app.js');
      const csp = page.headers.get('content-security-policy') ?? '';
      for (const directive of [
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
      ]) {
        expect(csp).toContain(directive);
      }
      expect(csp).not.toContain('unsafe-eval');
      expect(csp).not.toContain('unsafe-inline');
      expect(page.headers.get('x-content-type-options')).toBe('nosniff');
      expect(page.headers.get('referrer-policy')).toBe('no-referrer');
      const script = await call(first, 'GET', '/dashboard/app.js');
      expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
      const dagre = await call(first, 'GET', '/dashboard/vendor/dagre.js');
      expect(dagre.status).toBe(200);
      expect(dagre.text).toMatch(/export\s*\{[^}]*layout/);
      const again = await call(first, 'GET', '/dashboard/app.js', {
        headers: { 'if-none-match': script.headers.get('etag')! },
      });
      expect(again.status).toBe(304);
    });
  });

  describe('POST /dashboard/login', () => {
    it('sets an HttpOnly, SameSite=Strict, Path=/ cookie (Secure only over https)', async () => {
      const reply = await call(first, 'POST', '/dashboard/login', { csrf: true, body: { token: ADMIN } });
      expect(reply.status).toBe(200);
      expect(reply.body).toMatchObject({ agentId: 'admin', role: 'admin' });
      const cookie = reply.headers.get('set-cookie') ?? '';
      expect(cookie).toMatch(/^am_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);
      // The token is not in the cookie, nor its hash.
      expect(cookie).not.toContain(ADMIN);
      const payload = cookie.split('=')[1]!.split('.')[0]!;
      expect(Buffer.from(payload, 'base64url').toString()).not.toContain(hashToken(ADMIN));
      const secure = await call(first, 'POST', '/dashboard/login', {
        csrf: true,
        body: { token: ADMIN },
        headers: { 'x-forwarded-proto': 'https' },
      });
      expect(secure.headers.get('set-cookie')).toMatch(/; Secure$/);
    });

    it('refuses a wrong token (401) and a login without the CSRF header (403), setting no cookie', async () => {
      const wrong = await call(first, 'POST', '/dashboard/login', { csrf: true, body: { token: 'nope' } });
      expect([wrong.status, wrong.body.code]).toEqual([401, 'AM_ERR_AUTH_INVALID']);
      expect(wrong.headers.get('set-cookie')).toBeNull();
      const forged = await call(first, 'POST', '/dashboard/login', { body: { token: ADMIN } });
      expect([forged.status, forged.body.code]).toEqual([403, 'AM_ERR_AUTH_FORBIDDEN']);
      expect(forged.headers.get('set-cookie')).toBeNull();
    });
  });

  describe('a session cookie', () => {
    it('opens the reads, /readyz, /docs and the event stream, on every server with the same secret', async () => {
      const cookie = await login(first, ADMIN);
      for (const server of [first, second]) {
        const session = await call(server, 'GET', '/dashboard/session', { cookie });
        expect(session.body).toMatchObject({ agentId: 'admin', role: 'admin', via: 'session' });
        expect((await call(server, 'GET', '/v1/graphs', { cookie })).status).toBe(200);
        expect((await call(server, 'GET', '/v1/agents', { cookie })).status).toBe(200);
        expect((await call(server, 'GET', '/readyz', { cookie })).status).toBe(200);
        const docs = await call(server, 'GET', '/docs', { cookie });
        expect(docs.status).toBe(200);
        expect(docs.text).toContain('swagger-initializer.js');
        expect(docs.headers.get('content-security-policy')).toContain("script-src 'self'");
        expect((await call(server, 'GET', '/docs/json', { cookie })).body).toHaveProperty('openapi');
      }
      const submitted = await call(first, 'POST', '/v1/tasks', {
        token: ADMIN,
        body: { goal: 'streamed', tasks: [{ id: 'a', title: 'A', instructions: 'x' }] },
      });
      expect(submitted.status).toBe(202);
      const abort = new AbortController();
      const response = await fetch(`${first.url}/v1/graphs/${submitted.body.graphId}/events/stream`, {
        headers: { cookie: `${SESSION_COOKIE}=${cookie}` },
        signal: abort.signal,
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const reader = response.body!.getReader();
      const { value } = await reader.read();
      expect(new TextDecoder().decode(value)).toContain('event: GraphSubmitted');
      abort.abort();
    });

    it('is refused (401) when signed with another secret, tampered with, malformed or expired', async () => {
      const now = Date.now();
      const inAnHour = now + 3_600_000;
      const forged = new SessionCodec(OTHER_SECRET).issue('admin', hashToken(ADMIN), inAnHour);
      const genuine = new SessionCodec(SECRET).issue('dash-worker', hashToken(workerToken), inAnHour);
      const [payload, signature] = genuine.split('.') as [string, string];
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
      const promoted = Buffer.from(JSON.stringify({ ...claims, a: 'admin' })).toString('base64url');
      const expired = new SessionCodec(SECRET).issue('admin', hashToken(ADMIN), now - 1);
      // Signed with the right secret, for a token the agent never had.
      const otherToken = new SessionCodec(SECRET).issue('dash-worker', hashToken('not-its-token'), inAnHour);
      const cases: Array<[string, string, RegExp]> = [
        ['another secret', forged, /not valid/],
        ['a changed agent id', `${promoted}.${signature}`, /not valid/],
        ['a changed signature', `${payload}.${signature.slice(0, -2)}AA`, /not valid/],
        ['no signature', payload, /not valid/],
        ['garbage', 'x.y.z', /not valid/],
        ['expired', expired, /expired/],
        ['another token', otherToken, /no longer valid/],
      ];
      for (const [name, cookie, detail] of cases) {
        const reply = await call(first, 'GET', '/v1/graphs', { cookie });
        expect({ name, status: reply.status, code: reply.body.code }).toEqual({
          name,
          status: 401,
          code: 'AM_ERR_AUTH_INVALID',
        });
        expect(reply.body.detail).toMatch(detail);
      }
      // The genuine one works, so the cases above failed for what they changed.
      expect((await call(first, 'GET', '/v1/graphs', { cookie: genuine })).status).toBe(200);
    });

    it('is not accepted by /mcp, which takes bearer tokens only', async () => {
      const cookie = await login(first, ADMIN);
      const reply = await call(first, 'POST', '/mcp', {
        cookie,
        csrf: true,
        headers: { accept: 'application/json, text/event-stream' },
        body: { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      });
      expect(reply.status).toBe(401);
    });
  });

  describe('state changes with the cookie', () => {
    const goal = { goal: 'csrf', tasks: [{ id: 'a', title: 'A', instructions: 'x' }] };

    it('need the x-am-csrf header and a same-origin Origin (403 otherwise, nothing appended)', async () => {
      const cookie = await login(first, ADMIN);
      const host = new URL(first.url).host;
      const refusedGoal = { ...goal, goal: `csrf refused ${Date.now()}` };
      const refused: Array<[string, Record<string, string>]> = [
        ['no header', {}],
        ['another origin', { 'x-am-csrf': '1', origin: 'http://evil.example' }],
        ['a null origin', { 'x-am-csrf': '1', origin: 'null' }],
        ['a cross-site fetch', { 'x-am-csrf': '1', 'sec-fetch-site': 'cross-site' }],
      ];
      for (const [name, headers] of refused) {
        const reply = await call(first, 'POST', '/v1/tasks', { cookie, headers, body: refusedGoal });
        expect({ name, status: reply.status, code: reply.body.code }).toEqual({
          name,
          status: 403,
          code: 'AM_ERR_AUTH_FORBIDDEN',
        });
      }
      // Nothing was appended: no event in the stream carries the refused goal (other servers' reconcilers may
      // append meanwhile, so the sequence is no measure).
      const stored = await first.node.ctx.store.readAll();
      expect(stored.filter((entry) => JSON.stringify(entry).includes(refusedGoal.goal))).toEqual([]);
      const accepted = await call(first, 'POST', '/v1/tasks', {
        cookie,
        headers: { 'x-am-csrf': '1', origin: `http://${host}`, 'sec-fetch-site': 'same-origin' },
        body: goal,
      });
      expect(accepted.status).toBe(202);
      const cancelled = await call(first, 'POST', `/v1/graphs/${accepted.body.graphId}/cancel`, {
        cookie,
        csrf: true,
      });
      expect(cancelled.status).toBe(202);
    });

    it('leave bearer-token requests as they were', async () => {
      const reply = await call(first, 'POST', '/v1/tasks', {
        token: ADMIN,
        headers: { origin: 'http://evil.example' },
        body: goal,
      });
      expect(reply.status).toBe(202);
    });

    it("keep the session's role: a worker session may read but not cancel (403)", async () => {
      const cookie = await login(first, workerToken);
      const submitted = await call(first, 'POST', '/v1/tasks', { token: ADMIN, body: goal });
      const graphId = String(submitted.body.graphId);
      expect(
        (await call(first, 'GET', `/v1/graphs/${graphId}?minSeq=${submitted.body.seq}`, { cookie })).status,
      ).toBe(200);
      const cancel = await call(first, 'POST', `/v1/graphs/${graphId}/cancel`, { cookie, csrf: true });
      expect([cancel.status, cancel.body.code]).toEqual([403, 'AM_ERR_AUTH_FORBIDDEN']);
    });
  });

  describe('ending sessions', () => {
    it('a revoked agent: its sessions are refused at once, on every server', async () => {
      const token = await register('dash-revoked', 'worker');
      const cookie = await login(first, token);
      expect((await call(second, 'GET', '/v1/graphs', { cookie })).status).toBe(200);
      const revoked = await call(first, 'POST', '/v1/agents/dash-revoked/revoke', { token: ADMIN });
      expect(revoked.status).toBe(202);
      await appliedEverywhere(Number(revoked.body.seq));
      for (const server of [first, second]) {
        const reply = await call(server, 'GET', '/v1/graphs', { cookie });
        expect([reply.status, reply.body.code]).toEqual([401, 'AM_ERR_AUTH_REVOKED']);
      }
    });

    it('a rotated agent: sessions of the old token are refused, a login with the new one works', async () => {
      const token = await register('dash-rotated', 'admin');
      const cookie = await login(first, token);
      expect((await call(first, 'GET', '/v1/graphs', { cookie })).status).toBe(200);
      const rotated = await call(first, 'POST', '/v1/agents/dash-rotated/rotate', { token: ADMIN });
      expect(rotated.status).toBe(200);
      await waitUntil(async () => (await call(first, 'GET', '/v1/graphs', { cookie })).status === 401, {
        message: 'the old session refused',
      });
      const reply = await call(first, 'GET', '/v1/graphs', { cookie });
      expect(reply.body.code).toBe('AM_ERR_AUTH_INVALID');
      const fresh = await login(first, String(rotated.body.token));
      expect((await call(first, 'GET', '/dashboard/session', { cookie: fresh })).body).toMatchObject({
        agentId: 'dash-rotated',
        role: 'admin',
      });
    });

    it('logout clears the cookie (with the CSRF proof only)', async () => {
      const cookie = await login(first, ADMIN);
      const forged = await call(first, 'POST', '/dashboard/logout', { cookie });
      expect([forged.status, forged.body.code]).toEqual([403, 'AM_ERR_AUTH_FORBIDDEN']);
      expect(forged.headers.get('set-cookie')).toBeNull();
      const reply = await call(first, 'POST', '/dashboard/logout', { cookie, csrf: true });
      expect(reply.status).toBe(204);
      expect(reply.headers.get('set-cookie')).toBe(
        'am_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0',
      );
    });
  });
});
