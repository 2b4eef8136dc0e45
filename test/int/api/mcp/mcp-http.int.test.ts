import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../../../src/api/http/app.ts';
import { httpCall, startTestHttpApi, type TestHttpApi, waitUntil } from '../../../kit/index.ts';
import { call, connectMcp } from './mcp-client.ts';

const ADMIN = 'mcp-http-admin-token-0123456789';
const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/** A request with exactly these headers (fetch would not let a test set Host). */
function raw(
  base: string,
  method: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<RawReply> {
  const url = new URL('/mcp', base);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        headers: {
          accept: 'application/json, text/event-stream',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => {
          text += chunk.toString();
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : {} }),
        );
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe('/mcp over HTTP: auth, Origin, methods and the end of requests', () => {
  let testApi: TestHttpApi;
  let port: number;
  let worker: string;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    testApi = await startTestHttpApi({ adminToken: ADMIN });
    port = Number(new URL(testApi.url).port);
    const registered = await httpCall(() => testApi.url)('POST', '/v1/agents', ADMIN, {
      agentId: 'mcp-http-worker',
      role: 'worker',
    });
    worker = String(registered.body.token);
  });

  afterAll(async () => {
    await testApi?.cleanup();
  });

  describe('the bearer token', () => {
    it('is required: none is 401 problem+json, as on every other route', async () => {
      const reply = await raw(testApi.url, 'POST', {}, INITIALIZE);
      expect(reply.status).toBe(401);
      expect(reply.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(reply.body).toMatchObject({ code: 'AM_ERR_AUTH_MISSING', status: 401 });
    });

    it('must be valid: a wrong one is 401, and the SDK client fails to connect', async () => {
      const reply = await raw(testApi.url, 'POST', bearer('not-a-token'), INITIALIZE);
      expect(reply.status).toBe(401);
      expect(reply.body).toMatchObject({ code: 'AM_ERR_AUTH_INVALID' });
      const error = await connectMcp(testApi.url, 'not-a-token').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StreamableHTTPError);
      expect((error as StreamableHTTPError).code).toBe(401);
    });

    it('with a valid one, initialize answers JSON (no session: the server is stateless)', async () => {
      const reply = await raw(testApi.url, 'POST', bearer(worker), INITIALIZE);
      expect(reply.status).toBe(200);
      expect(reply.headers['content-type']).toMatch(/^application\/json/);
      expect(reply.headers['mcp-session-id']).toBeUndefined();
      expect(reply.body).toMatchObject({ id: 1, result: { serverInfo: { name: 'agentmanager' } } });
    });
  });

  describe('the Origin header (DNS-rebinding protection)', () => {
    it('refuses a foreign origin with 403 problem+json, before looking at the token', async () => {
      for (const token of [worker, 'not-a-token']) {
        const reply = await raw(
          testApi.url,
          'POST',
          { ...bearer(token), origin: 'https://evil.example' },
          INITIALIZE,
        );
        expect(reply.status).toBe(403);
        expect(reply.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(reply.body).toMatchObject({ code: 'AM_ERR_AUTH_FORBIDDEN', status: 403 });
      }
      const opaque = await raw(testApi.url, 'POST', { ...bearer(worker), origin: 'null' }, INITIALIZE);
      expect(opaque.status).toBe(403);
    });

    it('refuses a rebound name even when the Host header agrees with it', async () => {
      const reply = await raw(
        testApi.url,
        'POST',
        { ...bearer(worker), host: `rebound.example:${port}`, origin: `http://rebound.example:${port}` },
        INITIALIZE,
      );
      expect(reply.status).toBe(403);
    });

    it("lets the server's own origin through, and requests without Origin", async () => {
      for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`]) {
        const reply = await raw(testApi.url, 'POST', { ...bearer(worker), origin }, INITIALIZE);
        expect(reply.status, origin).toBe(200);
      }
      const otherPort = await raw(
        testApi.url,
        'POST',
        { ...bearer(worker), origin: 'http://localhost:1' },
        INITIALIZE,
      );
      expect(otherPort.status).toBe(403);
    });

    it('lets an allow-listed origin through (AM_MCP_ALLOWED_ORIGINS)', async () => {
      const app = await buildApp({ ctx: testApi.node.ctx, mcpAllowedOrigins: ['https://app.example.com'] });
      try {
        const base = await app.listen({ port: 0, host: '127.0.0.1' });
        const allowed = await raw(
          base,
          'POST',
          { ...bearer(worker), origin: 'https://app.example.com' },
          INITIALIZE,
        );
        expect(allowed.status).toBe(200);
        const other = await raw(
          base,
          'POST',
          { ...bearer(worker), origin: 'https://app.example.org' },
          INITIALIZE,
        );
        expect(other.status).toBe(403);
      } finally {
        await app.close();
      }
      const elsewhere = await raw(
        testApi.url,
        'POST',
        { ...bearer(worker), origin: 'https://app.example.com' },
        INITIALIZE,
      );
      expect(elsewhere.status).toBe(403);
    });
  });

  describe('methods and bodies', () => {
    it('answers GET and DELETE with 405 (a stateless server has no stream and no session)', async () => {
      for (const method of ['GET', 'DELETE']) {
        const reply = await raw(testApi.url, method, bearer(worker));
        expect(reply.status, method).toBe(405);
        expect(reply.headers.allow).toBe('POST');
        expect(reply.headers['content-type']).toMatch(/^application\/problem\+json/);
      }
    });

    it('refuses an empty body with 400 problem+json, and a message that is not JSON-RPC with 400', async () => {
      const empty = await raw(testApi.url, 'POST', { ...bearer(worker), 'content-type': 'application/json' });
      expect(empty.status).toBe(400);
      expect(empty.body).toMatchObject({ code: 'AM_ERR_VALIDATION' });
      const notRpc = await raw(testApi.url, 'POST', bearer(worker), { hello: 'world' });
      expect(notRpc.status).toBe(400);
    });
  });

  describe('requests that end early', () => {
    const idleClaim = () => ({
      requestId: `idle-${randomBytes(4).toString('hex')}`,
      capabilities: ['none'],
      waitMs: 20_000,
    });

    it('a client that goes away stops its long-polling claim_task', async () => {
      const { claims } = testApi.node.ctx;
      const client = await connectMcp(testApi.url, worker);
      const pending = call(client, 'claim_task', idleClaim()).catch((e: unknown) => e);
      await waitUntil(() => claims.waiting === 1, { message: 'the claim waits' });
      const started = Date.now();
      await client.close();
      await waitUntil(() => claims.waiting === 0, { timeoutMs: 3_000, message: 'the claim stops waiting' });
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(await pending).toBeInstanceOf(Error);
    });

    it('closing the app ends the MCP requests in flight at once, and their waiting claims', async () => {
      const { claims } = testApi.node.ctx;
      const app: FastifyInstance = await buildApp({ ctx: testApi.node.ctx });
      const base = await app.listen({ port: 0, host: '127.0.0.1' });
      const client = await connectMcp(base, worker);
      const pending = call(client, 'claim_task', idleClaim()).catch((e: unknown) => e);
      await waitUntil(() => claims.waiting === 1, { message: 'the claim waits' });
      const started = Date.now();
      await app.close();
      await waitUntil(() => claims.waiting === 0, { timeoutMs: 3_000, message: 'the claim stops waiting' });
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(await pending).toBeInstanceOf(Error);
      await client.close();
    });
  });
});
