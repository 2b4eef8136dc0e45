import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { PROBLEM_TYPE_PREFIX } from '../../../../src/api/http/problem-json.ts';
import { decideFailGraph, handleCommand } from '../../../../src/commands/index.ts';
import type { ReadinessSnapshot } from '../../../../src/node/readiness.ts';
import type { ClaimReply, ReadinessSnapshotSchema } from '../../../../src/protocol/index.ts';
import { startTestHttpApi, type TestHttpApi } from '../../../kit/index.ts';

const ADMIN = 'openapi-test-admin-token-0123456789';

/** The protocol's readiness schema and the node's snapshot type are the same shape (checked by tsc). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const readinessSchemaMatchesSnapshot: Same<z.infer<typeof ReadinessSnapshotSchema>, ReadinessSnapshot> = true;

/**
 * Routes the server has that the document leaves out on purpose: the document's own UI, the dashboard
 * (its assets and its cookie session), and MCP (its own protocol over one URL, docs/mcp.md).
 */
const UNDOCUMENTED = [/^\/docs(\/|$)/, /^\/dashboard(\/|$)/, /^\/mcp$/, /^\/$/];

type JsonObject = Record<string, unknown>;
interface MediaType {
  schema?: JsonObject;
}
interface ResponseDoc {
  content?: Record<string, MediaType>;
}
interface OperationDoc {
  parameters?: Array<{ name: string; in: string; required?: boolean }>;
  requestBody?: { required?: boolean; content: Record<string, MediaType> };
  responses: Record<string, ResponseDoc>;
}
type PathsDoc = Record<string, Record<string, OperationDoc>>;

/** One exchange as the client saw it. */
interface Exchange {
  status: number;
  type: string;
  body: unknown;
}

/**
 * The routes of a Fastify app from `printRoutes({ commonPrefix: false })`: a tree whose lines are
 * `<indent>├── <segment> (<METHODS>)`, each segment continuing its parent's path.
 */
function routesOf(tree: string): Array<{ method: string; url: string }> {
  const routes: Array<{ method: string; url: string }> = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^((?:[│ ] {3})*)[├└]── (\S+)(?: \(([^)]*)\))?/.exec(line);
    if (!match) continue;
    const depth = (match[1] ?? '').length / 4;
    stack.length = depth;
    stack.push(match[2] ?? '');
    const url = stack.join('');
    for (const method of (match[3] ?? '').split(',').map((m) => m.trim())) {
      if (method !== '' && method !== '-' && method !== 'HEAD' && method !== 'OPTIONS') {
        routes.push({ method, url });
      }
    }
  }
  return routes;
}

describe('the OpenAPI document (GET /docs/json) against the real server', () => {
  let testApi: TestHttpApi;
  let url: string;
  let doc: JsonObject & { openapi: string; paths: PathsDoc };
  /** The document with every $ref resolved, for validating bodies. */
  let resolved: { paths: PathsDoc };
  let verdict: { valid: boolean; errors?: unknown };
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  // ajv-formats is CommonJS: its plugin is also its `default` export.
  addFormatsModule.default(ajv);
  const compiled = new Map<JsonObject, ValidateFunction>();
  /** `METHOD /path` of every documented operation checked against a real exchange. */
  const exercised = new Set<string>();
  const mismatches: string[] = [];

  const validate = (what: string, schema: JsonObject, value: unknown) => {
    let check = compiled.get(schema);
    if (check === undefined) {
      check = ajv.compile(schema);
      compiled.set(schema, check);
    }
    if (!check(value)) {
      mismatches.push(`${what}: ${ajv.errorsText(check.errors)} in ${JSON.stringify(value).slice(0, 300)}`);
    }
  };

  /**
   * Sends a request after checking it against the document (path, method, body), then checks the
   * reply's status and body against the document's response for that status.
   */
  const exchange = async (
    method: 'GET' | 'POST',
    docPath: string,
    path: string,
    opts: { token?: string | null; body?: unknown } = {},
  ): Promise<Exchange> => {
    const key = `${method} ${docPath}`;
    const operation = resolved.paths[docPath]?.[method.toLowerCase()];
    if (operation === undefined) {
      mismatches.push(`${key}: not in the document`);
    } else {
      const bodySchema = operation.requestBody?.content['application/json']?.schema;
      if (opts.body === undefined) {
        if (operation.requestBody?.required) mismatches.push(`${key}: the document requires a body`);
      } else if (bodySchema === undefined) {
        mismatches.push(`${key}: a body is sent but the document describes none`);
      } else {
        validate(`${key} request`, bodySchema, opts.body);
      }
    }
    const token = opts.token === undefined ? ADMIN : opts.token;
    const response = await fetch(`${url}${path}`, {
      method,
      headers: {
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
    });
    const type = response.headers.get('content-type') ?? '';
    const text = await response.text();
    const body = type.includes('json') && text !== '' ? JSON.parse(text) : text;
    if (operation !== undefined) {
      exercised.add(`${key} ${response.status}`);
      checkReply(key, operation, response.status, type, text === '' ? undefined : body);
    }
    return { status: response.status, type, body };
  };

  const checkReply = (key: string, operation: OperationDoc, status: number, type: string, body: unknown) => {
    const documented = operation.responses[String(status)] ?? operation.responses.default;
    if (documented === undefined) {
      mismatches.push(`${key}: status ${status} is not documented`);
      return;
    }
    const mediaType = type.split(';')[0]?.trim() ?? '';
    if (body === undefined) {
      if (documented.content !== undefined) mismatches.push(`${key} ${status}: no body, one documented`);
      return;
    }
    const schema = documented.content?.[mediaType]?.schema;
    if (schema === undefined) {
      mismatches.push(`${key} ${status}: ${mediaType} is not documented`);
      return;
    }
    validate(`${key} ${status} reply`, schema, body);
  };

  const statusOf = async (...args: Parameters<typeof exchange>) => (await exchange(...args)).status;

  /** The first message of an event stream: its data is what the document describes. */
  const firstStreamEvent = async (docPath: string, path: string): Promise<unknown> => {
    const key = `GET ${docPath}`;
    const abort = new AbortController();
    const response = await fetch(`${url}${path}`, {
      headers: { authorization: `Bearer ${ADMIN}` },
      signal: abort.signal,
    });
    const type = response.headers.get('content-type') ?? '';
    const reader = response.body?.getReader();
    let text = '';
    const decoder = new TextDecoder();
    while (reader !== undefined && !text.includes('\n\n')) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += decoder.decode(chunk.value, { stream: true });
    }
    abort.abort();
    const data = /^data: (.*)$/m.exec(text)?.[1];
    const operation = resolved.paths[docPath]?.get;
    if (operation === undefined || data === undefined) {
      mismatches.push(`${key}: ${operation === undefined ? 'not in the document' : 'no event'}`);
      return undefined;
    }
    exercised.add(`${key} ${response.status}`);
    checkReply(key, operation, response.status, type, JSON.parse(data));
    return JSON.parse(data);
  };

  beforeAll(async () => {
    testApi = await startTestHttpApi({ adminToken: ADMIN });
    url = testApi.url;
    const reply = await fetch(`${url}/docs/json`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(reply.status).toBe(200);
    doc = (await reply.json()) as typeof doc;
    const validator = new Validator();
    verdict = await validator.validate(structuredClone(doc));
    resolved = validator.resolveRefs() as typeof resolved;
  });

  afterAll(async () => {
    await testApi?.cleanup();
  });

  it('is a valid OpenAPI 3.1 document (@seriousme/openapi-schema-validator)', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(verdict.errors ?? []).toEqual([]);
    expect(verdict.valid).toBe(true);
    expect(readinessSchemaMatchesSnapshot).toBe(true);
  });

  it('lists every route the server serves, and only those', async () => {
    const served = routesOf(testApi.app.printRoutes({ commonPrefix: false }))
      .filter((route) => !UNDOCUMENTED.some((pattern) => pattern.test(route.url)))
      .map((route) => `${route.method} ${route.url.replace(/:([A-Za-z]+)/g, '{$1}')}`)
      .sort();
    const documented = Object.entries(doc.paths)
      .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();
    expect(served.length).toBeGreaterThan(15);
    expect(documented).toEqual(served);
  });

  it('keeps path parameters out of bodies, and has no body where the server reads none', () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        const params = [...path.matchAll(/\{([A-Za-z]+)\}/g)].map((m) => m[1] ?? '');
        const documentedParams = (operation.parameters ?? []).filter((p) => p.in === 'path');
        expect({ path, params: documentedParams.map((p) => p.name) }).toEqual({ path, params });
        const schema = operation.requestBody?.content['application/json']?.schema as
          | { properties?: JsonObject; required?: string[] }
          | undefined;
        for (const name of params) {
          expect({ path, method, inBody: Object.keys(schema?.properties ?? {}).includes(name) }).toEqual({
            path,
            method,
            inBody: false,
          });
          expect({ path, method, required: schema?.required ?? [] }).toEqual({
            path,
            method,
            required: (schema?.required ?? []).filter((field) => field !== name),
          });
        }
      }
    }
    const bodyOf = (path: string) => doc.paths[path]?.post?.requestBody;
    for (const path of ['/v1/graphs/{id}/retry', '/v1/agents/{id}/revoke', '/v1/agents/{id}/rotate']) {
      expect({ path, body: bodyOf(path) }).toEqual({ path, body: undefined });
    }
    // Cancel takes an optional reason, and nothing else.
    expect(bodyOf('/v1/graphs/{id}/cancel')).toMatchObject({
      required: false,
      content: { 'application/json': { schema: { properties: { reason: { type: 'string' } } } } },
    });
    const heartbeat = bodyOf('/v1/tasks/{taskId}/heartbeat')?.content['application/json']?.schema;
    expect(heartbeat).toMatchObject({ required: ['graphId', 'claimToken'] });
  });

  it('matches every real request and reply, route by route, including problems', async () => {
    const workerReply = await exchange('POST', '/v1/agents', '/v1/agents', {
      body: { agentId: 'oa-worker', role: 'worker' },
    });
    expect(workerReply.status).toBe(201);
    const worker = String((workerReply.body as { token: string }).token);
    const asWorker = { token: worker };

    const submitted = await exchange('POST', '/v1/tasks', '/v1/tasks', {
      body: {
        goal: 'conformance',
        tasks: [
          { id: 'a', title: 'A', instructions: 'x' },
          { id: 'b', title: 'B', instructions: 'y' },
        ],
        options: { maxAttempts: 1 },
      },
    });
    expect(submitted.status).toBe(202);
    const { graphId, seq } = submitted.body as { graphId: string; seq: number };
    await testApi.node.ctx.projector.waitFor(seq, 5_000);

    const claim = async (): Promise<ClaimReply> => {
      const reply = await exchange('POST', '/v1/tasks/claim', '/v1/tasks/claim', {
        ...asWorker,
        body: { requestId: uuidv7(), waitMs: 2_000 },
      });
      expect(reply.status).toBe(200);
      return reply.body as ClaimReply;
    };
    const first = await claim();
    const taskPath = (suffix: string) => `/v1/tasks/${first.task.id}/${suffix}`;
    const claimed = { graphId, claimToken: first.claimToken };
    expect(
      await statusOf('POST', '/v1/tasks/{taskId}/heartbeat', taskPath('heartbeat'), {
        ...asWorker,
        body: claimed,
      }),
    ).toBe(200);
    expect(
      await statusOf('POST', '/v1/tasks/{taskId}/progress', taskPath('progress'), {
        ...asWorker,
        body: { ...claimed, step: { thought: 'look', action: { type: 'final', answer: 'x' } } },
      }),
    ).toBe(202);
    expect(
      await statusOf('POST', '/v1/tasks/{taskId}/release', taskPath('release'), {
        ...asWorker,
        body: { ...claimed, reason: 'shutting down' },
      }),
    ).toBe(202);

    // A result that claims the next task in the same round trip, then a failure that fails the graph.
    const second = await claim();
    const completed = await exchange('POST', '/v1/results', '/v1/results', {
      ...asWorker,
      body: {
        graphId,
        taskId: second.task.id,
        claimToken: second.claimToken,
        status: 'completed',
        output: 'done',
        history: [{ thought: 'ok', action: { type: 'final', answer: 'done' } }],
        next: { requestId: uuidv7() },
      },
    });
    expect(completed.status).toBe(202);
    const third = (completed.body as { next: ClaimReply | null }).next;
    expect(third).not.toBeNull();
    const failed = await exchange('POST', '/v1/results', '/v1/results', {
      ...asWorker,
      body: {
        graphId,
        taskId: third?.task.id,
        claimToken: third?.claimToken,
        status: 'failed',
        error: { message: 'broken', retryable: false },
      },
    });
    expect(failed.status).toBe(202);
    const nothing = await exchange('POST', '/v1/tasks/claim', '/v1/tasks/claim', {
      ...asWorker,
      body: { requestId: uuidv7(), capabilities: ['nobody-offers-this'] },
    });
    expect(nothing.status).toBe(204);

    // The manager (not running here) fails a graph with a FAILED task: done as it does, so retry applies.
    const { node } = testApi;
    await node.ctx.projector.waitFor((failed.body as { seq: number }).seq, 5_000);
    const failTaskId = String(third?.task.id);
    const outcome = await handleCommand(node.ctx.ports, {
      actor: 'system:manager',
      load: () => node.ctx.projector.graphState(graphId),
      decide: (state, metadata) =>
        decideFailGraph(
          {
            type: 'FailGraph',
            data: { graphId, reason: 'task_failed', message: 'broken', tasks: [failTaskId] },
            metadata,
          },
          state,
        ),
    });
    const lastSeq = (outcome as { seq: number }).seq;
    const graph = await exchange('GET', '/v1/graphs/{id}', `/v1/graphs/${graphId}?minSeq=${lastSeq}`);
    expect(graph.status).toBe(200);
    expect((graph.body as { graph: { status: string } }).graph.status).toBe('FAILED');
    expect(await statusOf('GET', '/v1/graphs', '/v1/graphs?limit=5')).toBe(200);
    expect(await statusOf('GET', '/v1/graphs/{id}/events', `/v1/graphs/${graphId}/events`)).toBe(200);
    expect(
      await firstStreamEvent('/v1/graphs/{id}/events/stream', `/v1/graphs/${graphId}/events/stream`),
    ).toMatchObject({ type: 'GraphSubmitted' });

    expect(await statusOf('POST', '/v1/graphs/{id}/retry', `/v1/graphs/${graphId}/retry`)).toBe(202);
    const cancelled = await exchange('POST', '/v1/graphs/{id}/cancel', `/v1/graphs/${graphId}/cancel`, {
      body: { reason: 'enough' },
    });
    expect(cancelled.status).toBe(202);

    expect(
      await statusOf('POST', '/v1/agents', '/v1/agents', {
        body: { agentId: 'oa-spare', role: 'worker' },
      }),
    ).toBe(201);
    expect(await statusOf('GET', '/v1/agents', '/v1/agents')).toBe(200);
    expect(await statusOf('POST', '/v1/agents/{id}/rotate', '/v1/agents/oa-spare/rotate')).toBe(200);
    expect(await statusOf('POST', '/v1/agents/{id}/revoke', '/v1/agents/oa-spare/revoke')).toBe(202);

    expect(await statusOf('GET', '/healthz', '/healthz', { token: null })).toBe(200);
    const bare = await exchange('GET', '/readyz', '/readyz', { token: null });
    expect(bare.body).toEqual({ ready: true });
    const detailed = await exchange('GET', '/readyz', '/readyz');
    expect(detailed.body).toMatchObject({ ready: true, nats: 'connected' });
    const metrics = await exchange('GET', '/metrics', '/metrics');
    expect(metrics.status).toBe(200);
    expect(String(metrics.body)).toContain('am_');

    // Problems: every documented route answers them per its `default` response.
    const missing = await exchange('GET', '/v1/graphs/{id}', `/v1/graphs/${uuidv7()}`);
    expect(missing.body).toMatchObject({
      status: 404,
      code: 'AM_ERR_GRAPH_NOT_FOUND',
      type: `${PROBLEM_TYPE_PREFIX}AM_ERR_GRAPH_NOT_FOUND`,
    });
    expect(
      (await exchange('POST', '/v1/agents/{id}/revoke', '/v1/agents/oa-spare/revoke', { token: worker }))
        .status,
    ).toBe(403);

    expect(mismatches).toEqual([]);
    const everyOperation = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );
    const unexercised = everyOperation.filter(
      (operation) => ![...exercised].some((done) => done.startsWith(`${operation} `)),
    );
    expect(unexercised).toEqual([]);
  });

  it('catches a reply that does not match (the check is not vacuous)', () => {
    const before = mismatches.length;
    const operation = resolved.paths['/v1/tasks/{taskId}/heartbeat']?.post;
    expect(operation).toBeDefined();
    if (operation !== undefined) checkReply('heartbeat', operation, 200, 'application/json', { seq: 1 });
    // An undocumented status is held to the `default` (problem) response.
    if (operation !== undefined) checkReply('heartbeat', operation, 201, 'application/json', {});
    const caught = mismatches.splice(before);
    expect(caught).toEqual([
      expect.stringContaining('heartbeat 200 reply'),
      expect.stringContaining('heartbeat 201: application/json is not documented'),
    ]);
  });
});
