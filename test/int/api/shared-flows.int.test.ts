import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../../src/api/http/app.ts';
import type { ClaimReply, SubmitGraphReply, TaskGraph } from '../../../src/protocol/index.ts';
import { type ApiClient, type ApiOutcome, httpApiClient, natsApiClient } from '../../fixtures/api-client.ts';
import { waitUntil } from '../../kit/index.ts';
import { type AmOverNats, startAmOverNats } from './nats/am-over-nats.ts';

/**
 * The same cases over HTTP and over NATS, against one AM process: both transports dispatch to the same
 * operations, so bodies, auth and error codes must agree.
 */
let am: AmOverNats;
let app: FastifyInstance;
const clients: Partial<Record<'http' | 'nats', ApiClient>> = {};

beforeAll(async () => {
  am = await startAmOverNats();
  app = await buildApp({ ctx: am.node.ctx });
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  clients.http = httpApiClient(base);
  clients.nats = natsApiClient(await am.connectAs('worker'));
});

afterAll(async () => {
  await app?.close();
  await am?.cleanup();
});

const STEP = { thought: 'look it up', action: { type: 'tool', name: 'search', input: { q: 'x' } } };

describe.each(['http', 'nats'] as const)('over %s', (transport) => {
  let api: ApiClient;
  let admin: string;
  let worker: string;

  beforeAll(async () => {
    api = clients[transport]!;
    admin = am.adminToken;
    worker = (await am.registerWorker(`shared-${transport}`)).token;
  });

  /** Tasks carry a capability unique to the test, so one test's claims never take another's work. */
  function newCapability(): string {
    return `cap-${randomBytes(4).toString('hex')}`;
  }

  async function submit(capability: string, tasks: Array<{ id: string; dependsOn?: string[] }>) {
    const outcome = await api.call(
      'PlanTask',
      {
        goal: `shared flows over ${transport}`,
        tasks: tasks.map((t) => ({ ...t, title: t.id, instructions: `do ${t.id}`, capability })),
      },
      admin,
    );
    expect(outcome).toMatchObject({ ok: true, status: 202, body: { graphId: expect.any(String) } });
    return (outcome as { body: SubmitGraphReply }).body;
  }

  function claimRequest(capability: string, waitMs = 5_000) {
    return { requestId: randomBytes(8).toString('hex'), capabilities: [capability], waitMs };
  }

  async function claim(capability: string, waitMs = 5_000): Promise<ClaimReply> {
    const outcome = await api.call('ClaimTask', claimRequest(capability, waitMs), worker);
    expect(outcome).toMatchObject({ ok: true, status: 200 });
    return (outcome as { body: ClaimReply }).body;
  }

  function body<T>(outcome: ApiOutcome): T {
    if (!outcome.ok) throw new Error(`expected success, got ${outcome.code}: ${outcome.detail}`);
    return outcome.body as T;
  }

  describe('a worker through one task and its dependent', () => {
    it('claims, heartbeats, reports progress, releases, claims again, submits, and then gets the dependent', async () => {
      const capability = newCapability();
      const { graphId } = await submit(capability, [{ id: 'first' }, { id: 'second', dependsOn: ['first'] }]);

      const claimed = await claim(capability);
      expect(claimed.task).toMatchObject({ id: 'first', graphId, kind: 'work', attempt: 1 });
      expect(claimed.context.dependencies).toEqual([]);
      const holder = { taskId: 'first', graphId, claimToken: claimed.claimToken };

      const beat = await api.call('ExtendLease', holder, worker);
      expect(beat).toMatchObject({ ok: true, status: 200, body: { cancelled: false } });
      expect(Date.parse(body<{ leaseUntil: string }>(beat).leaseUntil)).toBeGreaterThan(Date.now());

      expect(await api.call('ReportProgress', { ...holder, step: STEP }, worker)).toMatchObject({
        ok: true,
        status: 202,
      });
      expect(await api.call('ReleaseTask', { ...holder, reason: 'shutting down' }, worker)).toMatchObject({
        ok: true,
        status: 202,
      });

      const again = await claim(capability);
      expect(again.task.id).toBe('first');
      expect(again.claimToken).not.toBe(claimed.claimToken);

      const result = {
        graphId,
        taskId: 'first',
        claimToken: again.claimToken,
        status: 'completed',
        output: 'the first answer',
        history: [STEP],
      };
      const submitted = await api.call('SubmitResult', result, worker);
      expect(submitted).toMatchObject({ ok: true, status: 202, body: { seq: expect.any(Number) } });
      const { seq } = body<{ seq: number }>(submitted);
      expect(await api.call('SubmitResult', result, worker)).toEqual(submitted);

      const graph = body<TaskGraph>(await api.call('GetGraph', { id: graphId, minSeq: seq }, worker));
      expect(graph.graph.id).toBe(graphId);
      const first = graph.tasks.find((t) => t.id === 'first');
      expect(first).toMatchObject({ status: 'COMPLETED', result: { output: 'the first answer' } });

      const dependent = await claim(capability);
      expect(dependent.task.id).toBe('second');
      expect(dependent.context.dependencies).toEqual([{ taskId: 'first', output: 'the first answer' }]);
    });
  });

  describe('claims', () => {
    it('a long-polling claim wakes when work arrives', async () => {
      const capability = newCapability();
      const startedAt = Date.now();
      const waiting = api.call('ClaimTask', claimRequest(capability, 15_000), worker);
      await waitUntil(() => am.node.ctx.claims.waiting === 1, { message: 'the claim is long-polling' });
      const { graphId } = await submit(capability, [{ id: 'late' }]);
      const outcome = await waiting;
      expect(outcome).toMatchObject({ ok: true, status: 200, body: { task: { id: 'late', graphId } } });
      expect(Date.now() - startedAt).toBeLessThan(10_000);
    });

    it('answers "no work" (204) when nothing arrives within waitMs', async () => {
      const startedAt = Date.now();
      const outcome = await api.call('ClaimTask', claimRequest(newCapability(), 300), worker);
      expect(outcome).toEqual({ ok: true, status: 204, body: null });
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(250);
    });
  });

  describe('refusals, with the same codes and no event appended', () => {
    let seqBefore: number;
    beforeAll(async () => {
      // Registration and earlier tests are done; nothing else writes while these run.
      seqBefore = await am.node.ctx.store.lastSeq();
    });

    afterAll(async () => {
      expect(await am.node.ctx.store.lastSeq()).toBe(seqBefore);
    });

    it('refuses a bad token with 401 AM_ERR_AUTH_INVALID', async () => {
      expect(await api.call('ClaimTask', claimRequest('x', 0), 'am_not-a-token')).toMatchObject({
        ok: false,
        status: 401,
        code: 'AM_ERR_AUTH_INVALID',
      });
    });

    it('refuses a missing token with 401 AM_ERR_AUTH_MISSING', async () => {
      expect(await api.call('ClaimTask', claimRequest('x', 0))).toMatchObject({
        ok: false,
        status: 401,
        code: 'AM_ERR_AUTH_MISSING',
      });
    });

    it('refuses a worker submitting a graph with 403 AM_ERR_AUTH_FORBIDDEN', async () => {
      expect(await api.call('PlanTask', { goal: 'not yours to plan' }, worker)).toMatchObject({
        ok: false,
        status: 403,
        code: 'AM_ERR_AUTH_FORBIDDEN',
      });
    });

    it('refuses a schema problem with 400 AM_ERR_VALIDATION naming the field', async () => {
      const outcome = await api.call('ClaimTask', { requestId: 'r-1', waitMs: 'soon' }, worker);
      expect(outcome).toMatchObject({ ok: false, status: 400, code: 'AM_ERR_VALIDATION', field: 'waitMs' });
      expect(outcome.ok || outcome.detail).toMatch(/waitMs/);
    });

    it('refuses an unknown field with 400 AM_ERR_VALIDATION naming it', async () => {
      const outcome = await api.call('ClaimTask', { requestId: 'r-2', sneaky: true }, worker);
      expect(outcome).toMatchObject({ ok: false, status: 400, code: 'AM_ERR_VALIDATION' });
      expect(outcome.ok || outcome.detail).toMatch(/sneaky/);
    });

    it('refuses malformed JSON with 400 AM_ERR_VALIDATION', async () => {
      expect(await api.callRaw('ClaimTask', '{"requestId": ', worker)).toMatchObject({
        ok: false,
        status: 400,
        code: 'AM_ERR_VALIDATION',
      });
    });
  });

  describe('a result that asks for the next task (SubmitResult `next`)', () => {
    function completed(graphId: string, c: ClaimReply, next?: { requestId: string; capabilities: string[] }) {
      return {
        graphId,
        taskId: c.task.id,
        claimToken: c.claimToken,
        status: 'completed',
        output: `done ${c.task.id}`,
        history: [STEP],
        ...(next ? { next } : {}),
      };
    }

    it('hands over a claim of another READY task, the same one when repeated, and null when none is left', async () => {
      const capability = newCapability();
      const { graphId } = await submit(capability, [{ id: 'one' }, { id: 'two' }]);
      const first = await claim(capability);
      const next = { requestId: randomBytes(8).toString('hex'), capabilities: [capability] };

      const outcome = await api.call('SubmitResult', completed(graphId, first, next), worker);
      expect(outcome).toMatchObject({ ok: true, status: 202, body: { seq: expect.any(Number) } });
      const reply = body<{ seq: number; next: ClaimReply | null }>(outcome);
      expect(reply.next?.task).toMatchObject({ graphId, kind: 'work', attempt: 1 });
      expect(reply.next?.task.id).not.toBe(first.task.id);

      // A retry whose first reply was lost: the same result seq and the same next claim.
      expect(body(await api.call('SubmitResult', completed(graphId, first, next), worker))).toEqual(reply);

      const handedOver = reply.next!;
      const last = await api.call(
        'SubmitResult',
        completed(graphId, handedOver, {
          requestId: randomBytes(8).toString('hex'),
          capabilities: [capability],
        }),
        worker,
      );
      expect(last).toMatchObject({ ok: true, status: 202, body: { next: null } });

      const graph = body<TaskGraph>(
        await api.call('GetGraph', { id: graphId, minSeq: body<{ seq: number }>(last).seq }, worker),
      );
      expect(graph.tasks.filter((t) => t.kind === 'work').map((t) => t.status)).toEqual([
        'COMPLETED',
        'COMPLETED',
      ]);
    });

    it('hands over the dependent that the result itself makes READY', async () => {
      const capability = newCapability();
      const { graphId } = await submit(capability, [{ id: 'first' }, { id: 'then', dependsOn: ['first'] }]);
      const first = await claim(capability);
      const next = { requestId: randomBytes(8).toString('hex'), capabilities: [capability] };
      const reply = body<{ seq: number; next: ClaimReply | null }>(
        await api.call('SubmitResult', completed(graphId, first, next), worker),
      );
      expect(reply.next?.task).toMatchObject({ id: 'then', graphId });
      expect(reply.next?.context.dependencies).toEqual([{ taskId: 'first', output: 'done first' }]);
    });

    it('releases the claim it made when the result itself is refused', async () => {
      const capability = newCapability();
      const { graphId } = await submit(capability, [{ id: 'held' }]);
      const old = await claim(capability);
      expect(
        await api.call('ReleaseTask', { taskId: old.task.id, graphId, claimToken: old.claimToken }, worker),
      ).toMatchObject({ ok: true });
      const current = await claim(capability);
      expect(current.task.id).toBe(old.task.id);
      const spare = await submit(capability, [{ id: 'spare' }]);

      const next = { requestId: randomBytes(8).toString('hex'), capabilities: [capability] };
      expect(await api.call('SubmitResult', completed(graphId, old, next), worker)).toMatchObject({
        ok: false,
        status: 409,
        code: 'AM_ERR_STALE_CLAIM',
      });
      // The spare task was claimed beside the refused result and given back at once: it is READY again.
      const again = await claim(capability, 2_000);
      expect(again.task).toMatchObject({ id: 'spare', graphId: spare.graphId, attempt: 1 });
      const trail = body<{ events: Array<{ type: string; taskId?: string }> }>(
        await api.call('GetGraphEvents', { id: spare.graphId }, worker),
      );
      expect(trail.events.filter((e) => e.taskId === 'spare').map((e) => e.type)).toEqual([
        'TaskClaimed',
        'TaskReleased',
        'TaskClaimed',
      ]);
    });
  });

  describe('a stale claim', () => {
    it('is refused with 409 AM_ERR_STALE_CLAIM once the task was claimed again', async () => {
      const capability = newCapability();
      const { graphId } = await submit(capability, [{ id: 'only' }]);
      const old = await claim(capability);
      const holder = { taskId: 'only', graphId, claimToken: old.claimToken };
      expect(await api.call('ReleaseTask', holder, worker)).toMatchObject({ ok: true, status: 202 });
      const current = await claim(capability);
      expect(current.claimToken).not.toBe(old.claimToken);

      const seqBefore = await am.node.ctx.store.lastSeq();
      for (const [operation, input] of [
        ['ExtendLease', holder],
        ['ReportProgress', { ...holder, step: STEP }],
        ['SubmitResult', { ...holder, status: 'completed', output: 'too late' }],
      ] as const) {
        expect(await api.call(operation, input, worker), operation).toMatchObject({
          ok: false,
          status: 409,
          code: 'AM_ERR_STALE_CLAIM',
        });
      }
      expect(await am.node.ctx.store.lastSeq()).toBe(seqBefore);
    });
  });
});
