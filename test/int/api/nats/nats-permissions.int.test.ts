import { jetstream } from '@nats-io/jetstream';
import { type NatsConnection, PermissionViolationError } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsApiClient } from '../../../fixtures/api-client.ts';
import { waitUntil } from '../../../kit/index.ts';
import { type AmOverNats, startAmOverNats } from './am-over-nats.ts';

describe('NATS users and permissions (generated config)', () => {
  let am: AmOverNats;
  let workerNc: NatsConnection;
  let workerToken: string;
  /** Permission violations the server reported to the worker connection. */
  const violations: PermissionViolationError[] = [];

  beforeAll(async () => {
    am = await startAmOverNats();
    workerNc = await am.connectAs('worker');
    void (async () => {
      for await (const status of workerNc.status()) {
        if (status.type === 'error' && status.error instanceof PermissionViolationError) {
          violations.push(status.error);
        }
      }
    })();
    workerToken = await am.registerWorker();
  });

  afterAll(async () => {
    await am?.cleanup();
  });

  function violationFor(operation: 'publish' | 'subscription', subject: string) {
    return violations.find((v) => v.operation === operation && v.subject === subject);
  }

  describe('a worker user', () => {
    it('cannot publish to the event stream: the server refuses and the stream does not move', async () => {
      const before = await am.node.ctx.store.lastSeq();
      const subject = 'am.evt._sys.agent.intruder';
      workerNc.publish(subject, JSON.stringify({ type: 'AgentRegistered', v: 1, data: {} }));
      await workerNc.flush();
      await waitUntil(() => violationFor('publish', subject) !== undefined, {
        message: 'a publish permissions violation',
      });
      expect(workerNc.isClosed()).toBe(false);
      expect(await am.node.ctx.store.lastSeq()).toBe(before);
    });

    it('gets no JetStream ack for an append', async () => {
      const before = await am.node.ctx.store.lastSeq();
      const js = jetstream(workerNc, { timeout: 2_000 });
      await expect(js.publish('am.evt.graph.intruder', '{}')).rejects.toThrow();
      expect(await am.node.ctx.store.lastSeq()).toBe(before);
    });

    it('cannot call the JetStream API', async () => {
      await expect(
        workerNc.request('$JS.API.STREAM.INFO.AM_EVENTS', '', { timeout: 2_000 }),
      ).rejects.toThrow();
      await waitUntil(() => violationFor('publish', '$JS.API.STREAM.INFO.AM_EVENTS') !== undefined, {
        message: 'a publish permissions violation on $JS.API',
      });
    });

    it('cannot read the stream or take command requests meant for AM', async () => {
      for (const subject of ['am.evt.>', 'am.cmd.v1.>']) {
        const sub = workerNc.subscribe(subject);
        const closedWith = await sub.closed;
        expect(closedWith, subject).toBeInstanceOf(PermissionViolationError);
      }
    });

    it('can request commands and hear READY hints', async () => {
      const hints = workerNc.subscribe('am.notify.v1.ready', { max: 1, timeout: 5_000 });
      await workerNc.flush();
      const client = natsApiClient(workerNc);
      const claim = await client.call(
        'ClaimTask',
        { requestId: 'perm-1', capabilities: ['none-here'] },
        workerToken,
      );
      expect(claim).toEqual({ ok: true, status: 204, body: null });
      const planned = await client.call(
        'PlanTask',
        {
          goal: 'hints reach workers',
          tasks: [{ id: 'only', title: 'Only', instructions: 'x', capability: 'perm-hint' }],
        },
        am.adminToken,
      );
      expect(planned).toMatchObject({ ok: true, status: 202 });
      for await (const msg of hints) {
        expect(msg.json()).toEqual({
          graphId: (planned as { body: { graphId: string } }).body.graphId,
          count: 1,
        });
      }
    });
  });

  describe('the service user', () => {
    it('runs the whole AM process: the stream, its consumer and the command service', async () => {
      const client = natsApiClient(workerNc);
      const before = await am.node.ctx.store.lastSeq();
      const planned = await client.call('PlanTask', { goal: 'a goal for the planner' }, am.adminToken);
      expect(planned).toMatchObject({ ok: true, status: 202 });
      expect(await am.node.ctx.store.lastSeq()).toBeGreaterThan(before);
      const seq = (planned as { body: { seq: number } }).body.seq;
      expect(await am.node.ctx.projector.waitFor(seq, 5_000)).toBe(true);
    });
  });
});
