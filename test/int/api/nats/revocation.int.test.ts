import { createHash, randomBytes } from 'node:crypto';
import type { Msg, NatsConnection } from '@nats-io/nats-core';
import type { FastifyInstance } from 'fastify';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../../../src/api/http/app.ts';
import { stamp } from '../../../../src/events/index.ts';
import { type Manager, startManager } from '../../../../src/manager/index.ts';
import { natsApiClient } from '../../../fixtures/api-client.ts';
import { httpCall, publishRaw, waitUntil } from '../../../kit/index.ts';
import { type AgentCredentials, type AmOverNats, startAmOverNats } from './am-over-nats.ts';

/**
 * Revoking an agent on the embedded server, as an operator does it: its NATS user goes (connections
 * closed, reconnects refused), its waiting claims end 401, a claim stored after the revocation is void,
 * and the tasks it held are released. Everything is asserted from the stream and the API, not from logs.
 */
describe('revoking an agent', () => {
  let am: AmOverNats;
  let app: FastifyInstance;
  let manager: Manager;
  let base = '';
  const call = httpCall(() => base);
  /** Every agent whose secrets another worker must never see. */
  const secrets: string[] = [];
  /** Everything a bystander worker could hear the whole time: READY hints and its own inbox. */
  const heardByEve: Msg[] = [];

  beforeAll(async () => {
    am = await startAmOverNats();
    app = await buildApp({ ctx: am.node.ctx });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    manager = startManager({
      ctx: am.node.ctx,
      agents: {
        plan: async () => {
          throw new Error('graphs here are explicit');
        },
        runAudit: async () => {
          throw new Error('no graph here reaches its audit');
        },
      },
    });
    const eve = await am.registerWorker('eve');
    const eveNc = await am.connectAs(eve);
    for (const subject of ['am.notify.v1.>', '_INBOX.am-agent-eve.>']) {
      eveNc.subscribe(subject, {
        callback: (_error, msg) => {
          heardByEve.push(msg);
        },
      });
    }
    await eveNc.flush();
  });

  afterAll(async () => {
    await manager?.stop();
    await app?.close();
    await am?.cleanup();
  });

  async function worker(agentId: string): Promise<AgentCredentials> {
    const agent = await am.registerWorker(agentId);
    secrets.push(agent.token, agent.natsPassword);
    return agent;
  }

  async function revoke(agentId: string): Promise<number> {
    const reply = await call('POST', `/v1/agents/${agentId}/revoke`, am.adminToken);
    expect(reply.status).toBe(202);
    return Number(reply.body.seq);
  }

  /** A one-task graph whose task only a claimer with `capability` is offered. */
  async function oneTask(capability: string): Promise<string> {
    const reply = await call('POST', '/v1/tasks', am.adminToken, {
      goal: `a task for ${capability}`,
      tasks: [{ id: 'only', title: 'Only', instructions: 'x', capability }],
      options: { leaseMs: 60_000 },
    });
    expect(reply.status).toBe(202);
    await am.node.ctx.projector.waitFor(Number(reply.body.seq), 5_000);
    return String(reply.body.graphId);
  }

  async function taskEvents(
    graphId: string,
  ): Promise<Array<{ type: string; data: Record<string, unknown> }>> {
    const trail = await am.node.ctx.store.readTrail(graphId);
    return trail.flatMap((entry) =>
      'event' in entry && entry.event.taskId === 'only'
        ? [{ type: entry.event.type, data: entry.event.data as Record<string, unknown> }]
        : [],
    );
  }

  it('closes its NATS connection within 5 s, refuses its reconnects, and ends its long-polls (HTTP and NATS) with 401', async () => {
    const mallory = await worker('mallory');
    const malloryNc = await am.connectAs(mallory, { reconnect: true });
    const closed = malloryNc.closed();
    const capability = { capabilities: ['nothing-comes'] };
    const httpPoll = call('POST', '/v1/tasks/claim', mallory.token, {
      requestId: 'http-poll',
      waitMs: 25_000,
      ...capability,
    });
    const natsPoll = natsApiClient(malloryNc).call(
      'ClaimTask',
      { requestId: 'nats-poll', waitMs: 25_000, ...capability },
      mallory.token,
    );
    await waitUntil(() => am.node.ctx.claims.waiting === 2, { message: 'both long-polls waiting' });

    const revokedAt = Date.now();
    await revoke('mallory');
    const [http, nats] = await Promise.all([httpPoll, natsPoll]);
    const pollsEndedMs = Date.now() - revokedAt;
    expect(http.status).toBe(401);
    expect(http.type).toContain('application/problem+json');
    expect(http.body.code).toBe('AM_ERR_AUTH_REVOKED');
    expect(nats).toMatchObject({ ok: false, status: 401, code: 'AM_ERR_AUTH_REVOKED' });
    expect(pollsEndedMs).toBeLessThan(5_000);

    const closedWith = await closed;
    const connectionClosedMs = Date.now() - revokedAt;
    expect(connectionClosedMs).toBeLessThan(5_000);
    expect(String(closedWith)).toMatch(/authorization/i);
    await expect(am.connectAs(mallory)).rejects.toThrow(/authorization/i);
    // The revocation is in the stream, and nothing was claimed for mallory.
    const agentTrail = await am.node.ctx.store.readAll({
      filter: am.node.ctx.store.subjects.agent('mallory'),
    });
    expect(agentTrail.map((entry) => ('event' in entry ? entry.event.type : 'unreadable'))).toEqual([
      'AgentRegistered',
      'AgentRevoked',
    ]);
  });

  it('voids a claim stored after the revocation (as a node that had not applied it would store it): the task is claimable at once', async () => {
    const trudy = await worker('trudy');
    const victor = await worker('victor');
    const graphId = await oneTask('race');
    await revoke('trudy');
    const before = am.node.ctx.projector.graphState(graphId)!.tasks.get('only')!;
    expect(before.status).toBe('READY');
    // What a node that decided the claim before it applied the revocation appends: the task's expected
    // sequence holds, since only the agent's subject moved.
    const event = stamp(
      {
        type: 'TaskClaimed',
        graphId,
        taskId: 'only',
        data: { agentId: 'trudy', requestId: 'raced', attempt: 1, cycle: 1, leaseUntil: Date.now() + 60_000 },
      },
      { now: Date.now(), actor: 'trudy', newId: uuidv7 },
    );
    const injected = await am.node.ctx.store.append({
      subject: am.node.ctx.store.subjects.task(graphId, 'only'),
      event,
      expectedLastSubjectSeq: before.lastSeq,
      msgId: `test:raced:${graphId}`,
    });
    expect(injected.duplicate).toBe(false);
    expect(await am.node.ctx.projector.waitFor(injected.seq, 5_000)).toBe(true);

    const after = am.node.ctx.projector.graphState(graphId)!.tasks.get('only')!;
    expect(after.status).toBe('READY');
    expect(after.claim).toBeNull();
    expect(am.node.ctx.readModel.skipped.all()).toContainEqual(
      expect.objectContaining({ seq: injected.seq, reason: 'revoked_agent' }),
    );
    // trudy's result for it is refused at the door; victor gets the task with no wait.
    const refused = await call('POST', '/v1/results', trudy.token, {
      graphId,
      taskId: 'only',
      claimToken: String(injected.seq),
      status: 'completed',
      output: 'stolen',
      history: [],
    });
    expect(refused.status).toBe(401);
    const claimed = await call('POST', '/v1/tasks/claim', victor.token, {
      requestId: 'after-race',
      waitMs: 0,
      capabilities: ['race'],
    });
    expect(claimed.status).toBe(200);
    expect(claimed.body).toMatchObject({ task: { graphId, id: 'only' } });
    expect((await taskEvents(graphId)).map((e) => e.type)).toEqual(['TaskClaimed', 'TaskClaimed']);
  });

  it('releases the tasks it held at once instead of waiting out their leases', async () => {
    const walt = await worker('walt');
    const graphId = await oneTask('held');
    const claimed = await call('POST', '/v1/tasks/claim', walt.token, {
      requestId: 'held-1',
      waitMs: 0,
      capabilities: ['held'],
    });
    expect(claimed.status).toBe(200);
    const claimToken = String((claimed.body as { claimToken: string }).claimToken);
    const revokedAt = Date.now();
    await revoke('walt');
    await waitUntil(async () => (await taskEvents(graphId)).some((e) => e.type === 'TaskReleased'), {
      timeoutMs: 5_000,
      message: 'the held claim released',
    });
    // Well within the 60 s lease: the manager released it on the revocation, not the reaper on expiry.
    expect(Date.now() - revokedAt).toBeLessThan(5_000);
    const events = await taskEvents(graphId);
    expect(events.map((e) => e.type)).toEqual(['TaskClaimed', 'TaskReleased']);
    expect(events[1]!.data).toMatchObject({ claimToken, reason: 'agent walt was revoked' });
    await waitUntil(() => am.node.ctx.projector.graphState(graphId)?.tasks.get('only')?.status === 'READY', {
      message: 'the task READY again',
    });
  });

  it('lets an agent registered before NATS users keep its HTTP access, and gives it NATS access on rotation', async () => {
    const token = `am_${randomBytes(32).toString('base64url')}`;
    // AgentRegistered v1, as the previous release stored it: a token hash and no NATS password.
    const v1 = {
      type: 'AgentRegistered',
      v: 1,
      id: uuidv7(),
      at: new Date().toISOString(),
      actor: 'admin',
      data: {
        agentId: 'legacy',
        role: 'worker',
        tokenHash: createHash('sha256').update(token).digest('hex'),
      },
    };
    const seq = await publishRaw(
      am.serviceNc,
      am.node.ctx.store.subjects.agent('legacy'),
      JSON.stringify(v1),
    );
    expect(await am.node.ctx.projector.waitFor(seq, 5_000)).toBe(true);

    const noWork = { requestId: 'legacy-1', waitMs: 0, capabilities: ['nothing-comes'] };
    expect((await call('POST', '/v1/tasks/claim', token, noWork)).status).toBe(204);
    const listed = await call('GET', '/v1/agents', am.adminToken);
    expect(
      (listed.body.agents as Array<Record<string, unknown>>).find((a) => a.agentId === 'legacy'),
    ).toMatchObject({
      status: 'active',
      natsUser: null,
    });
    await expect(
      am.connectAs({ agentId: 'legacy', token, natsUser: 'am-agent-legacy', natsPassword: 'anything' }),
    ).rejects.toThrow(/authorization/i);

    const rotated = await call('POST', '/v1/agents/legacy/rotate', am.adminToken);
    expect(rotated.status).toBe(200);
    const fresh = rotated.body as unknown as { token: string; natsUser: string; natsPassword: string };
    expect(fresh.natsUser).toBe('am-agent-legacy');
    secrets.push(fresh.token, fresh.natsPassword, token);
    expect(await am.natsUsers.synced()).toBe(true);
    const legacyNc: NatsConnection = await am.connectAs({ agentId: 'legacy', ...fresh });
    expect(
      await natsApiClient(legacyNc).call('ClaimTask', { ...noWork, requestId: 'legacy-2' }, fresh.token),
    ).toEqual({ ok: true, status: 204, body: null });
    expect((await call('POST', '/v1/tasks/claim', token, { ...noWork, requestId: 'legacy-3' })).status).toBe(
      401,
    );
  });

  it('never let another worker read a secret', async () => {
    expect(secrets.length).toBeGreaterThanOrEqual(10);
    expect(heardByEve.length).toBeGreaterThan(0);
    const heard = heardByEve.map((msg) => new TextDecoder().decode(msg.data)).join('\n');
    for (const secret of secrets) expect(heard).not.toContain(secret);
  });
});
