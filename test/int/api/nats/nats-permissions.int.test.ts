import { jetstream } from '@nats-io/jetstream';
import { headers, type Msg, type NatsConnection, PermissionViolationError } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsApiClient } from '../../../fixtures/api-client.ts';
import { waitUntil } from '../../../kit/index.ts';
import { type AgentCredentials, type AmOverNats, startAmOverNats } from './am-over-nats.ts';

/**
 * The NATS boundary as an attacker holding one worker's credentials meets it: the embedded server's
 * generated config, agents' users written from the agents projection, each agent reading only its own
 * inbox.
 */
describe('NATS users and permissions (generated config)', () => {
  let am: AmOverNats;
  let alice: AgentCredentials;
  let bob: AgentCredentials;
  let aliceNc: NatsConnection;
  let bobNc: NatsConnection;
  /** Permission violations the server reported to alice's connection. */
  const violations: PermissionViolationError[] = [];
  /** Everything bob's connection could hear the whole time: READY hints and its own inbox. */
  const heardByBob: Msg[] = [];

  beforeAll(async () => {
    am = await startAmOverNats();
    alice = await am.registerWorker('alice');
    bob = await am.registerWorker('bob');
    aliceNc = await am.connectAs(alice);
    bobNc = await am.connectAs(bob);
    void (async () => {
      for await (const status of aliceNc.status()) {
        if (status.type === 'error' && status.error instanceof PermissionViolationError) {
          violations.push(status.error);
        }
      }
    })();
    for (const subject of ['am.notify.v1.>', '_INBOX.am-agent-bob.>']) {
      bobNc.subscribe(subject, {
        callback: (_error, msg) => {
          heardByBob.push(msg);
        },
      });
    }
    await bobNc.flush();
  });

  afterAll(async () => {
    await am?.cleanup();
  });

  function violationFor(operation: 'publish' | 'subscription', subject: string) {
    return violations.find((v) => v.operation === operation && v.subject === subject);
  }

  describe("a worker's user", () => {
    it('cannot publish to the event stream: the server refuses and the stream does not move', async () => {
      const before = await am.node.ctx.store.lastSeq();
      const subject = 'am.evt._sys.agent.intruder';
      aliceNc.publish(subject, JSON.stringify({ type: 'AgentRegistered', v: 1, data: {} }));
      await aliceNc.flush();
      await waitUntil(() => violationFor('publish', subject) !== undefined, {
        message: 'a publish permissions violation',
      });
      expect(aliceNc.isClosed()).toBe(false);
      expect(await am.node.ctx.store.lastSeq()).toBe(before);
    });

    it('gets no JetStream ack for an append', async () => {
      const before = await am.node.ctx.store.lastSeq();
      const js = jetstream(aliceNc, { timeout: 2_000 });
      await expect(js.publish('am.evt.graph.intruder', '{}')).rejects.toThrow();
      expect(await am.node.ctx.store.lastSeq()).toBe(before);
    });

    it('cannot call the JetStream API', async () => {
      await expect(
        aliceNc.request('$JS.API.STREAM.INFO.AM_EVENTS', '', { timeout: 2_000 }),
      ).rejects.toThrow();
      await waitUntil(() => violationFor('publish', '$JS.API.STREAM.INFO.AM_EVENTS') !== undefined, {
        message: 'a publish permissions violation on $JS.API',
      });
    });

    it.each([
      ['every inbox', '_INBOX.>'],
      ['everything', '>'],
      ['the event stream', 'am.evt.>'],
      ['the command requests meant for AM', 'am.cmd.v1.>'],
      ["another worker's inbox", '_INBOX.am-agent-bob.>'],
      ["the service's inboxes (its stream deliveries)", '_INBOX.am-service.>'],
    ])('cannot subscribe to %s (%s)', async (_what, subject) => {
      const sub = aliceNc.subscribe(subject);
      const closedWith = await sub.closed;
      expect(closedWith, subject).toBeInstanceOf(PermissionViolationError);
      expect(aliceNc.isClosed()).toBe(false);
    });

    it('can request commands in its own inbox and hear READY hints', async () => {
      const hints = aliceNc.subscribe('am.notify.v1.ready', { max: 1, timeout: 5_000 });
      await aliceNc.flush();
      const client = natsApiClient(aliceNc);
      const claim = await client.call(
        'ClaimTask',
        { requestId: 'perm-1', capabilities: ['none-here'] },
        alice.token,
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

    it('cannot make the service write its reply onto the stream or into the service inbox: such requests are not run', async () => {
      const before = await am.node.ctx.store.lastSeq();
      const auth = headers();
      auth.set('authorization', `Bearer ${am.adminToken}`);
      const body = JSON.stringify({ goal: 'smuggled', tasks: [{ id: 'a', title: 'A', instructions: 'x' }] });
      for (const reply of ['am.evt.00000000-0000-7000-8000-000000000001.graph', '_INBOX.am-service.x.1']) {
        aliceNc.publish('am.cmd.v1.PlanTask', body, { reply, headers: auth });
      }
      // The service reads its requests in order: once a later request is answered, those were handled.
      const client = natsApiClient(aliceNc);
      expect(
        await client.call('ClaimTask', { requestId: 'perm-after', capabilities: ['none-here'] }, alice.token),
      ).toEqual({ ok: true, status: 204, body: null });
      expect(await am.node.ctx.store.lastSeq()).toBe(before);
    });
  });

  describe('secrets', () => {
    it("a registration over NATS answers only the requester's inbox: another worker hears no token", async () => {
      const admin = natsApiClient(aliceNc);
      const registered = await admin.call(
        'RegisterAgent',
        { agentId: 'carol', role: 'worker' },
        am.adminToken,
      );
      expect(registered).toMatchObject({ ok: true, status: 201 });
      const { token, natsPassword } = (registered as { body: { token: string; natsPassword: string } }).body;
      await bobNc.flush();
      const heard = heardByBob.map((msg) => new TextDecoder().decode(msg.data)).join('\n');
      for (const secret of [token, natsPassword, alice.token, alice.natsPassword]) {
        expect(heard).not.toContain(secret);
      }
    });

    it('the events keep only hashes: no token or NATS password is in the stream', async () => {
      const trail = await am.node.ctx.store.readAll({ filter: am.node.ctx.store.subjects.agent('alice') });
      expect(trail.length).toBeGreaterThan(0);
      const text = JSON.stringify(trail);
      expect(text).not.toContain(alice.token);
      expect(text).not.toContain(alice.natsPassword);
      expect(text).toMatch(/"natsPasswordHash":"\$2[aby]\$06\$/);
    });
  });

  describe('the service user', () => {
    it('runs the whole AM process: the stream, its consumer and the command service', async () => {
      const client = natsApiClient(aliceNc);
      const before = await am.node.ctx.store.lastSeq();
      const planned = await client.call('PlanTask', { goal: 'a goal for the planner' }, am.adminToken);
      expect(planned).toMatchObject({ ok: true, status: 202 });
      expect(await am.node.ctx.store.lastSeq()).toBeGreaterThan(before);
      const seq = (planned as { body: { seq: number } }).body.seq;
      expect(await am.node.ctx.projector.waitFor(seq, 5_000)).toBe(true);
    });
  });
});
