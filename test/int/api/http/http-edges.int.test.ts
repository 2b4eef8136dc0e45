import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppNode } from '../../../../src/node/app-node.ts';
import { httpCall, startTestHttpApi, type TestHttpApi } from '../../../kit/index.ts';

const ADMIN = 'http-edges-admin-token-0123456789';
const UNKNOWN = '00000000-0000-4000-8000-000000000000';

/** The event stream, the JSON body parser and the OpenAPI document, over a real nats-server and port. */
describe('HTTP API edges', () => {
  let testApi: TestHttpApi;
  let node: AppNode;
  let url: string;
  let worker: string;

  const call = httpCall(() => url);
  const submit = async (goal: string) => {
    const response = await call(
      'POST',
      '/v1/tasks',
      ADMIN,
      JSON.stringify({ goal, tasks: [{ id: 't', title: 'T', instructions: 'x' }] }),
    );
    expect(response.status).toBe(202);
    return response.body as { graphId: string; seq: number };
  };
  /**
   * Opens the SSE stream: for a 200 it reads until `until` appears in the text (or 5 s pass) and then
   * hangs up; otherwise it returns the whole answer.
   */
  const stream = async (graphId: string, until: RegExp, headers: Record<string, string> = {}) => {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 5_000);
    try {
      const response = await fetch(`${url}/v1/graphs/${graphId}/events/stream`, {
        headers: { authorization: `Bearer ${ADMIN}`, ...headers },
        signal: abort.signal,
      });
      const type = response.headers.get('content-type') ?? '';
      if (response.status !== 200) return { status: response.status, type, text: await response.text() };
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      try {
        while (!until.test(text)) {
          const { value, done } = await reader.read();
          if (done) break;
          text += decoder.decode(value, { stream: true });
        }
      } catch {
        // Timed out: the caller's assertion on `text` says what was missing.
      }
      abort.abort();
      return { status: response.status, type, text };
    } finally {
      clearTimeout(timer);
    }
  };

  beforeAll(async () => {
    testApi = await startTestHttpApi({ adminToken: ADMIN });
    ({ node, url } = testApi);
    const registered = await call(
      'POST',
      '/v1/agents',
      ADMIN,
      JSON.stringify({ agentId: 'edge-worker', role: 'worker' }),
    );
    expect(registered.status).toBe(201);
    worker = String(registered.body.token);
  });

  afterAll(async () => {
    await testApi?.cleanup();
  });

  describe('GET /v1/graphs/:id/events/stream', () => {
    it('answers 404 problem+json AM_ERR_GRAPH_NOT_FOUND for an unknown graph, as the events route does', async () => {
      const events = await call('GET', `/v1/graphs/${UNKNOWN}/events`, ADMIN);
      expect(events.status).toBe(404);
      for (const headers of [{}, { 'last-event-id': '3' }] as Record<string, string>[]) {
        const reply = await stream(UNKNOWN, /never/, headers);
        expect(reply.status).toBe(404);
        expect(reply.type).toContain('application/problem+json');
        expect(JSON.parse(reply.text).code).toBe('AM_ERR_GRAPH_NOT_FOUND');
      }
    });

    it('streams the trail of a known graph', async () => {
      const { graphId, seq } = await submit('streamed');
      await node.ctx.projector.waitFor(seq, 5_000);
      const reply = await stream(graphId, /event: GraphSubmitted/);
      expect(reply.status).toBe(200);
      expect(reply.type).toContain('text/event-stream');
      expect(reply.text).toMatch(/id: \d+\nevent: GraphSubmitted\ndata: \{/);
    });

    it('streams a graph this server has not projected yet (read-your-writes), also when resuming', async () => {
      await node.ctx.projector.waitFor(await node.ctx.store.lastSeq(), 5_000);
      await node.ctx.projector.stop();
      try {
        const { graphId, seq } = await submit('not projected yet');
        expect(node.ctx.readModel.graphs.row(graphId)).toBeUndefined();
        const fresh = await stream(graphId, /event: GraphSubmitted/);
        expect(fresh.status).toBe(200);
        expect(fresh.text).toMatch(/event: GraphSubmitted/);
        // Nothing after the last event yet, but the graph exists: a stream, not a 404.
        const resumed = await stream(graphId, /^$/, { 'last-event-id': String(seq) });
        expect(resumed.status).toBe(200);
        expect(resumed.type).toContain('text/event-stream');
      } finally {
        node.ctx.projector.start();
      }
    });
  });

  describe('an empty body with content-type application/json', () => {
    it('counts as no body: the role check and validation decide', async () => {
      const { graphId, seq } = await submit('empty bodies');
      await node.ctx.projector.waitFor(seq, 5_000);
      const routes = [
        `/v1/graphs/${graphId}/cancel`,
        `/v1/graphs/${graphId}/retry`,
        '/v1/agents/nobody/revoke',
      ];
      for (const path of routes) {
        const asWorker = await call('POST', path, worker, '');
        expect({ path, status: asWorker.status, code: asWorker.body.code }).toEqual({
          path,
          status: 403,
          code: 'AM_ERR_AUTH_FORBIDDEN',
        });
      }
      expect((await call('POST', `/v1/graphs/${graphId}/cancel`, ADMIN, '')).status).toBe(202);
      expect((await call('POST', `/v1/graphs/${UNKNOWN}/retry`, ADMIN, '')).body.code).toBe(
        'AM_ERR_GRAPH_NOT_FOUND',
      );
      expect((await call('POST', '/v1/agents/nobody/revoke', ADMIN, '')).body.code).toBe(
        'AM_ERR_AGENT_NOT_FOUND',
      );
      const noGoal = await call('POST', '/v1/tasks', ADMIN, '');
      expect(noGoal.status).toBe(400);
      expect(noGoal.body.code).toBe('AM_ERR_VALIDATION');
    });

    it('leaves malformed JSON a 400 problem+json AM_ERR_VALIDATION', async () => {
      for (const body of ['{', ' ', '{"__proto__": {"x": 1}}']) {
        const reply = await call('POST', `/v1/graphs/${UNKNOWN}/cancel`, ADMIN, body);
        expect({ body, status: reply.status, code: reply.body.code }).toEqual({
          body,
          status: 400,
          code: 'AM_ERR_VALIDATION',
        });
        expect(reply.type).toContain('application/problem+json');
      }
    });
  });

  describe('requests refused before a route runs', () => {
    /** Sends raw bytes on a socket and returns everything the server wrote before it closed. */
    const raw = (request: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(Number(new URL(url).port), '127.0.0.1', () => socket.write(request));
        let text = '';
        socket.on('data', (chunk) => {
          text += chunk.toString();
        });
        socket.on('close', () => resolve(text));
        socket.on('error', reject);
      });
    const marker = 'zzmarkerzz';
    const auth = `authorization: Bearer ${ADMIN}\r\n`;
    const cases = [
      {
        name: 'a malformed request line',
        request: `${marker} / HTTP/1.1\r\n\r\n`,
        status: 400,
        code: 'AM_ERR_VALIDATION',
      },
      {
        name: 'a malformed header',
        request: `GET /healthz HTTP/1.1\r\nHost: x\r\n${marker}\r\n\r\n`,
        status: 400,
        code: 'AM_ERR_VALIDATION',
      },
      {
        name: 'headers over the size limit',
        request: `GET /v1/graphs?${marker}=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
        status: 431,
        code: 'AM_ERR_HEADERS_TOO_LARGE',
      },
      {
        name: 'a path parameter over the length limit',
        request: `GET /v1/graphs/${marker}${'a'.repeat(200)} HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`,
        status: 414,
        code: 'AM_ERR_URI_TOO_LONG',
      },
      {
        name: 'a URL that is not valid percent-encoding',
        request: `GET /v1/graphs/${marker}%E0%A4%A HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`,
        status: 400,
        code: 'AM_ERR_VALIDATION',
      },
    ];
    for (const { name, request, status, code } of cases) {
      it(`answers ${name} with ${status} problem+json ${code}, without echoing the request`, async () => {
        const text = await raw(request);
        const [head = '', body = ''] = text.split('\r\n\r\n');
        expect(head.split('\r\n')[0]).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
        expect(head.toLowerCase()).toContain('content-type: application/problem+json');
        expect(JSON.parse(body)).toMatchObject({ status, code });
        expect(text).not.toContain(marker);
      });
    }
  });

  describe('the OpenAPI document', () => {
    it('lists the event stream as text/event-stream', async () => {
      const doc = await call('GET', '/docs/json', ADMIN);
      const paths = doc.body.paths as Record<string, Record<string, Record<string, unknown>>>;
      const get = paths['/v1/graphs/{id}/events/stream']?.get;
      expect(get).toBeDefined();
      const responses = (get?.responses ?? {}) as Record<string, { content?: Record<string, unknown> }>;
      const ok = responses['200'];
      expect(Object.keys(ok?.content ?? {})).toEqual(['text/event-stream']);
      expect(get?.parameters).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ name: 'id', in: 'path' }),
          expect.objectContaining({ name: 'Last-Event-ID', in: 'header' }),
        ]),
      );
    });
  });
});
