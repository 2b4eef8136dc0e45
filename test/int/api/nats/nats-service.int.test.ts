import { randomBytes } from 'node:crypto';
import { type NatsConnection, headers as natsHeaders } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCommandService } from '../../../../src/api/nats/command-service.ts';
import type { ReadyHint } from '../../../../src/api/nats/ready-notifier.ts';
import type { ClaimReply, SubmitGraphReply } from '../../../../src/protocol/index.ts';
import { type ApiClient, natsApiClient } from '../../../fixtures/api-client.ts';
import { waitUntil } from '../../../kit/index.ts';
import { type AmOverNats, startAmOverNats } from './am-over-nats.ts';

const decoder = new TextDecoder();

describe('NATS command service', () => {
  let am: AmOverNats;
  let workerNc: NatsConnection;
  let api: ApiClient;
  let admin: string;
  let worker: string;

  beforeAll(async () => {
    am = await startAmOverNats();
    workerNc = await am.connectAs('worker');
    api = natsApiClient(workerNc);
    admin = am.adminToken;
    worker = (await am.registerWorker()).token;
  });

  afterAll(async () => {
    await am?.cleanup();
  });

  /** Tasks carry a capability unique to the test, so claims of one test never take another's work. */
  async function submitGraph(capability: string, tasks: Array<{ id: string; dependsOn?: string[] }>) {
    const outcome = await api.call(
      'PlanTask',
      {
        goal: 'nats service test',
        tasks: tasks.map((t) => ({ ...t, title: t.id, instructions: `do ${t.id}`, capability })),
      },
      admin,
    );
    expect(outcome).toMatchObject({ ok: true, status: 202 });
    return (outcome as { body: SubmitGraphReply }).body;
  }

  async function claim(capability: string, waitMs = 5_000): Promise<ClaimReply | null> {
    const outcome = await api.call(
      'ClaimTask',
      { requestId: randomBytes(8).toString('hex'), capabilities: [capability], waitMs },
      worker,
    );
    expect(outcome.ok).toBe(true);
    return (outcome as { body: ClaimReply | null }).body;
  }

  function uniqueCapability(): string {
    return `cap-${randomBytes(4).toString('hex')}`;
  }

  describe('READY hints', () => {
    it('publishes one hint per graph when a plan makes tasks READY, and again when a dependent becomes READY', async () => {
      const hints: ReadyHint[] = [];
      const sub = workerNc.subscribe('am.notify.v1.ready', {
        callback: (_error, msg) => {
          hints.push(msg.json<ReadyHint>());
        },
      });
      await workerNc.flush();
      const capability = uniqueCapability();
      const { graphId } = await submitGraph(capability, [
        { id: 'a' },
        { id: 'b' },
        { id: 'c', dependsOn: ['a', 'b'] },
      ]);
      await waitUntil(() => hints.some((h) => h.graphId === graphId), { message: 'the plan hint' });
      expect(hints.filter((h) => h.graphId === graphId)).toEqual([{ graphId, count: 2 }]);

      for (const _ of ['a', 'b']) {
        const claimed = await claim(capability);
        expect(claimed).not.toBeNull();
        const done = await api.call(
          'SubmitResult',
          {
            graphId,
            taskId: claimed?.task.id,
            claimToken: claimed?.claimToken,
            status: 'completed',
            output: 'ok',
          },
          worker,
        );
        expect(done).toMatchObject({ ok: true, status: 202 });
      }
      await waitUntil(() => hints.filter((h) => h.graphId === graphId).length === 2, {
        message: 'the hint for c',
      });
      expect(hints.filter((h) => h.graphId === graphId)[1]).toEqual({ graphId, count: 1 });
      expect((await claim(capability))?.task.id).toBe('c');
      sub.unsubscribe();
    });
  });

  describe('requests', () => {
    it('answers while a long-polling claim of the same worker is still waiting', async () => {
      const capability = uniqueCapability();
      const { graphId } = await submitGraph(capability, [{ id: 'held' }]);
      const held = await claim(capability);
      expect(held?.task.id).toBe('held');
      const waiting = claim(uniqueCapability(), 1_500);
      const startedAt = Date.now();
      const heartbeat = await api.call(
        'ExtendLease',
        { taskId: 'held', graphId, claimToken: held?.claimToken },
        worker,
      );
      expect(heartbeat).toMatchObject({ ok: true, status: 200, body: { cancelled: false } });
      expect(Date.now() - startedAt).toBeLessThan(1_000);
      expect(await waiting).toBeNull();
    });

    it('refuses an unknown operation with AM_ERR_ROUTE_NOT_FOUND', async () => {
      const reply = await workerNc.request('am.cmd.v1.DropTables', '{}', { timeout: 5_000 });
      expect(reply.json()).toMatchObject({
        ok: false,
        error: { status: 404, code: 'AM_ERR_ROUTE_NOT_FOUND' },
      });
    });

    it('accepts a bare token and an Authorization header in any case', async () => {
      for (const [name, value] of [
        ['authorization', admin],
        ['Authorization', `Bearer ${admin}`],
        ['AUTHORIZATION', `bearer ${admin}`],
      ] as const) {
        const h = natsHeaders();
        h.set(name, value);
        const reply = await workerNc.request('am.cmd.v1.ListAgents', '', { timeout: 5_000, headers: h });
        expect(reply.json<{ ok: boolean }>().ok, name).toBe(true);
      }
    });

    it('treats an empty body as an empty object', async () => {
      const h = natsHeaders();
      h.set('authorization', `Bearer ${admin}`);
      const reply = await workerNc.request('am.cmd.v1.ListAgents', new Uint8Array(), {
        timeout: 5_000,
        headers: h,
      });
      expect(reply.json()).toMatchObject({ ok: true, data: { agents: expect.any(Array) } });
    });

    it('refuses a JSON body that is not an object with AM_ERR_VALIDATION', async () => {
      const outcome = await api.callRaw('ClaimTask', '[1,2]', worker);
      expect(outcome).toMatchObject({ ok: false, status: 400, code: 'AM_ERR_VALIDATION' });
    });
  });

  describe('a second service instance', () => {
    it('refuses a body over its size cap with AM_ERR_PAYLOAD_TOO_LARGE before anything else', async () => {
      const small = startCommandService({
        ctx: am.node.ctx,
        nc: am.serviceNc,
        prefix: 'am.cmd.v1.small',
        maxBytes: 64,
      });
      try {
        await am.serviceNc.flush();
        const seqBefore = await am.node.ctx.store.lastSeq();
        const client = natsApiClient(workerNc, { prefix: 'am.cmd.v1.small' });
        const outcome = await client.call('PlanTask', { goal: 'x'.repeat(200) }, admin);
        expect(outcome).toMatchObject({ ok: false, status: 413, code: 'AM_ERR_PAYLOAD_TOO_LARGE' });
        expect(await am.node.ctx.store.lastSeq()).toBe(seqBefore);
      } finally {
        await small.stop();
      }
    });

    it('limits each agent to rateLimitPerSec: the next request gets 429 AM_ERR_RATE_LIMITED with retryAfterSec and appends nothing', async () => {
      const prefix = 'am.cmd.v1.limited';
      const limited = startCommandService({ ctx: am.node.ctx, nc: am.serviceNc, prefix, rateLimitPerSec: 2 });
      try {
        await am.serviceNc.flush();
        const headers = natsHeaders();
        headers.set('authorization', `Bearer ${admin}`);
        const ask = async (operation: string, body: unknown) =>
          (
            await workerNc.request(`${prefix}.${operation}`, JSON.stringify(body), {
              timeout: 5_000,
              headers,
            })
          ).json<{
            ok: boolean;
            error?: { status: number; code: string; retryAfterSec?: number };
          }>();
        expect((await ask('ListGraphs', {})).ok).toBe(true);
        expect((await ask('ListGraphs', {})).ok).toBe(true);
        const seqBefore = await am.node.ctx.store.lastSeq();
        const refused = await ask('PlanTask', { goal: 'over the limit' });
        expect(refused).toMatchObject({
          ok: false,
          error: { status: 429, code: 'AM_ERR_RATE_LIMITED', retryAfterSec: 1 },
        });
        expect(await am.node.ctx.store.lastSeq()).toBe(seqBefore);
        // Another agent has its own bucket.
        const other = await natsApiClient(workerNc, { prefix }).call('ListGraphs', {}, worker);
        expect(other.ok).toBe(true);
      } finally {
        await limited.stop();
      }
    });

    it('with maxConcurrent 1 holds the next request until the one in hand has replied', async () => {
      const prefix = 'am.cmd.v1.single';
      const single = startCommandService({ ctx: am.node.ctx, nc: am.serviceNc, prefix, maxConcurrent: 1 });
      try {
        await am.serviceNc.flush();
        const client = natsApiClient(workerNc, { prefix });
        const startedAt = Date.now();
        const longPoll = client
          .call(
            'ClaimTask',
            { requestId: 'single-1', capabilities: [uniqueCapability()], waitMs: 600 },
            worker,
          )
          .then(() => Date.now() - startedAt);
        const next = client.call('ListGraphs', {}, worker).then(() => Date.now() - startedAt);
        const [longPollMs, nextMs] = await Promise.all([longPoll, next]);
        expect(longPollMs).toBeGreaterThanOrEqual(550);
        expect(nextMs).toBeGreaterThanOrEqual(longPollMs - 50);
      } finally {
        await single.stop();
      }
    });

    it('on stop ends a waiting long-poll with "no work", then stops answering', async () => {
      const prefix = 'am.cmd.v1.stopping';
      const stopping = startCommandService({ ctx: am.node.ctx, nc: am.serviceNc, prefix });
      await am.serviceNc.flush();
      const client = natsApiClient(workerNc, { prefix });
      const waiting = client.call(
        'ClaimTask',
        { requestId: 'stop-1', capabilities: [uniqueCapability()], waitMs: 20_000 },
        worker,
      );
      await waitUntil(() => stopping.inFlight === 1, { message: 'the claim to arrive' });
      const startedAt = Date.now();
      await stopping.stop();
      expect(await waiting).toEqual({ ok: true, status: 204, body: null });
      expect(Date.now() - startedAt).toBeLessThan(5_000);
      await expect(workerNc.request(`${prefix}.ClaimTask`, '{}', { timeout: 2_000 })).rejects.toThrow(
        /no responders|503|timeout/i,
      );
    });
  });

  it('replies in the documented envelope', async () => {
    const h = natsHeaders();
    h.set('authorization', 'Bearer nope');
    const reply = await workerNc.request('am.cmd.v1.ClaimTask', JSON.stringify({ requestId: 'r' }), {
      timeout: 5_000,
      headers: h,
    });
    expect(JSON.parse(decoder.decode(reply.data))).toEqual({
      ok: false,
      error: { status: 401, code: 'AM_ERR_AUTH_INVALID', detail: expect.any(String) },
    });
  });
});
