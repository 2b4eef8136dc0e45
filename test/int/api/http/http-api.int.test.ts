import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decideExpireLease, handleCommand } from '../../../../src/commands/index.ts';
import type { AppNode } from '../../../../src/node/app-node.ts';
import type { ClaimReply, TaskGraph } from '../../../../src/protocol/index.ts';
import { httpCall, startTestHttpApi, type TestHttpApi, waitUntil } from '../../../kit/index.ts';

const ADMIN = 'http-test-admin-token-0123456789';

describe('HTTP API over a real nats-server and a real port', () => {
  let testApi: TestHttpApi;
  let node: AppNode;
  let url: string;
  let worker: string;
  let revoked: string;

  const call = httpCall(() => url);
  const submit = async (body: unknown) => {
    const reply = await call('POST', '/v1/tasks', ADMIN, body);
    expect(reply.status).toBe(202);
    return reply.body as { graphId: string; seq: number };
  };
  const claim = async (token: string, waitMs = 2_000, requestId = uuidv7()) => {
    const reply = await call('POST', '/v1/tasks/claim', token, { requestId, waitMs });
    return reply.status === 204 ? null : (reply.body as unknown as ClaimReply);
  };
  const complete = (token: string, c: ClaimReply, output = 'done') =>
    call('POST', '/v1/results', token, {
      graphId: c.task.graphId,
      taskId: c.task.id,
      claimToken: c.claimToken,
      status: 'completed',
      output,
      history: [{ thought: 'ok', action: { type: 'final', answer: output } }],
    });
  /**
   * Runs `body` with this server's projector caught up and then stopped: what the body appends is not
   * in the read model until `resumeSoon()` restarts the projector 300 ms later (or the body ends).
   */
  const withProjectorPaused = async (body: (resumeSoon: () => void) => Promise<void>) => {
    await node.ctx.projector.waitFor(await node.ctx.store.lastSeq(), 5_000);
    await node.ctx.projector.stop();
    let timer: NodeJS.Timeout | undefined;
    try {
      await body(() => {
        timer = setTimeout(() => node.ctx.projector.start(), 300);
      });
    } finally {
      if (timer === undefined) node.ctx.projector.start();
    }
  };
  const register = async (agentId: string) => {
    const reply = await call('POST', '/v1/agents', ADMIN, { agentId, role: 'worker' });
    expect(reply.status).toBe(201);
    return String(reply.body.token);
  };

  beforeAll(async () => {
    testApi = await startTestHttpApi({ adminToken: ADMIN, bodyLimitBytes: 64 * 1024 });
    ({ node, url } = testApi);
    worker = await register('w-main');
    revoked = await register('w-revoked');
    expect((await call('POST', '/v1/agents/w-revoked/revoke', ADMIN)).status).toBe(202);
  });

  afterAll(async () => {
    await testApi?.cleanup();
  });

  describe('seed checkpoint: a submitted graph', () => {
    it('is persisted and its roots are READY in the read model', async () => {
      const { graphId, seq } = await submit({
        goal: 'roots',
        tasks: [
          { id: 'r1', title: 'Root 1', instructions: 'x' },
          { id: 'r2', title: 'Root 2', instructions: 'y' },
          { id: 'c', title: 'Child', instructions: 'z', dependsOn: ['r1', 'r2'] },
        ],
      });
      const graph = (await call('GET', `/v1/graphs/${graphId}?minSeq=${seq}`, ADMIN))
        .body as unknown as TaskGraph;
      const statuses = Object.fromEntries(graph.tasks.map((t) => [t.id, t.status]));
      expect(statuses).toEqual({ r1: 'READY', r2: 'READY', c: 'PENDING', _synthesis: 'PENDING' });
      expect(node.ctx.readModel.tasks.row(graphId, 'r1')?.status).toBe('READY');
      // Leave nothing READY behind for the tests that follow.
      expect((await call('POST', `/v1/graphs/${graphId}/cancel`, ADMIN, {})).status).toBe(202);
    });
  });

  describe('listing graphs page by page', () => {
    it('walks every graph once, newest first, by following nextCursor', async () => {
      let lastSeq = 0;
      for (let i = 0; i < 5; i++) {
        const { graphId, seq } = await submit({
          goal: `page ${i}`,
          tasks: [{ id: 'a', title: 'A', instructions: '' }],
        });
        lastSeq = seq;
        expect((await call('POST', `/v1/graphs/${graphId}/cancel`, ADMIN, {})).status).toBe(202);
      }
      const all = (await call('GET', `/v1/graphs?limit=200&minSeq=${lastSeq}`, ADMIN)).body as unknown as {
        graphs: Array<{ id: string }>;
      };
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
        const page = (await call('GET', `/v1/graphs?limit=2${query}`, ADMIN)).body as unknown as {
          graphs: Array<{ id: string }>;
          nextCursor: string | null;
        };
        expect(page.graphs.length).toBeLessThanOrEqual(2);
        seen.push(...page.graphs.map((g) => g.id));
        cursor = page.nextCursor;
      } while (cursor !== null);
      expect(seen).toEqual(all.graphs.map((g) => g.id));
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.length).toBeGreaterThanOrEqual(5);
    });
  });

  describe('seed checkpoint: a diamond A→B, A→C, B+C→D', () => {
    it('makes D READY only after both B and C complete', async () => {
      const { graphId } = await submit({
        goal: 'diamond',
        options: { priority: 50 },
        tasks: [
          { id: 'A', title: 'A', instructions: 'a' },
          { id: 'B', title: 'B', instructions: 'b', dependsOn: ['A'] },
          { id: 'C', title: 'C', instructions: 'c', dependsOn: ['A'] },
          { id: 'D', title: 'D', instructions: 'd', dependsOn: ['B', 'C'] },
        ],
      });
      const status = (id: string) => node.ctx.readModel.tasks.row(graphId, id)?.status;
      const a = await claim(worker);
      expect(a?.task.id).toBe('A');
      const aDone = await complete(worker, a!);
      await node.ctx.projector.waitFor(Number((aDone.body as { seq: number }).seq), 5_000);
      expect([status('B'), status('C'), status('D')]).toEqual(['READY', 'READY', 'PENDING']);
      const b = await claim(worker);
      const c = await claim(worker);
      expect([b?.task.id, c?.task.id].sort()).toEqual(['B', 'C']);
      const bDone = await complete(worker, b!);
      await node.ctx.projector.waitFor(Number((bDone.body as { seq: number }).seq), 5_000);
      expect(status('D')).toBe('PENDING');
      const cDone = await complete(worker, c!);
      await node.ctx.projector.waitFor(Number((cDone.body as { seq: number }).seq), 5_000);
      expect(status('D')).toBe('READY');
      const d = await claim(worker);
      expect(d?.task.id).toBe('D');
      expect(d?.context.dependencies.map((x) => x.taskId).sort()).toEqual(['B', 'C']);
      expect((await complete(worker, d!)).status).toBe(202);
    });
  });

  describe('long-poll', () => {
    it('returns a waiting claim within 50 ms of a task becoming READY', async () => {
      const measured: number[] = [];
      for (let i = 0; i < 5; i++) {
        const waiting = (async () => {
          const reply = await claim(worker, 10_000);
          return { reply, at: performance.now() };
        })();
        await waitUntil(() => node.ctx.claims.waiting === 1, { message: 'the claim is long-polling' });
        const before = performance.now();
        await submit({ goal: `long-poll ${i}`, tasks: [{ id: 'lp', title: 'LP', instructions: 'x' }] });
        const submittedAt = performance.now();
        const { reply, at } = await waiting;
        expect(reply?.task.id).toBe('lp');
        measured.push(at - submittedAt);
        expect(at - before).toBeLessThan(1_000);
        await complete(worker, reply!);
      }
      const sorted = [...measured].sort((a, b) => a - b);
      console.log(
        JSON.stringify({
          longPollWakeMs: {
            median: sorted[2],
            max: sorted[4],
            all: measured.map((m) => Math.round(m * 10) / 10),
          },
        }),
      );
      for (const ms of measured) expect(ms).toBeLessThan(50);
    });

    it('answers 204 after about waitMs when nothing comes', async () => {
      const started = performance.now();
      const reply = await call('POST', '/v1/tasks/claim', worker, { requestId: uuidv7(), waitMs: 300 });
      expect(reply.status).toBe(204);
      expect(performance.now() - started).toBeGreaterThanOrEqual(280);
    });
  });

  describe('idempotency', () => {
    it('gives a retried claim (same requestId) the same claim, and a repeated result the same 202', async () => {
      const { graphId } = await submit({
        goal: 'idem',
        options: { priority: 60 },
        tasks: [{ id: 'i', title: 'I', instructions: 'x' }],
      });
      const requestId = uuidv7();
      const first = await claim(worker, 2_000, requestId);
      const again = await claim(worker, 2_000, requestId);
      expect(again?.claimToken).toBe(first?.claimToken);
      const r1 = await complete(worker, first!);
      const r2 = await complete(worker, first!);
      expect(r1.status).toBe(202);
      expect(r2).toEqual(r1);
      const trail = (await call('GET', `/v1/graphs/${graphId}/events`, ADMIN)).body as {
        events: { type: string }[];
      };
      expect(trail.events.filter((e) => e.type === 'TaskClaimed')).toHaveLength(1);
      expect(trail.events.filter((e) => e.type === 'TaskCompleted')).toHaveLength(1);
    });
  });

  describe('a claim retried before this server has projected it', () => {
    it('gets the claim it already has, not "no work"', async () => {
      await submit({
        goal: 'lagging projector',
        options: { priority: 95 },
        tasks: [{ id: 'lag', title: 'Lag', instructions: 'x' }],
      });
      await withProjectorPaused(async (resumeSoon) => {
        const requestId = uuidv7();
        const first = await claim(worker, 0, requestId);
        expect(first?.task.id).toBe('lag');
        resumeSoon();
        const started = performance.now();
        // waitMs 0: answered from what this server knows, not by a READY index the restart reloads.
        const again = await claim(worker, 0, requestId);
        expect(again?.claimToken).toBe(first?.claimToken);
        expect(performance.now() - started).toBeLessThan(3_000);
      });
    });
  });

  describe('a result sent before this server has projected the claim', () => {
    it('waits for the claim to be applied instead of calling it stale', async () => {
      const { graphId } = await submit({
        goal: 'fast worker',
        options: { priority: 90 },
        tasks: [{ id: 'quick', title: 'Q', instructions: 'x' }],
      });
      await withProjectorPaused(async (resumeSoon) => {
        const claimed = await claim(worker, 0);
        expect(claimed?.task).toMatchObject({ graphId, id: 'quick' });
        expect(node.ctx.projector.appliedSeq).toBeLessThan(Number(claimed!.claimToken));
        const result = complete(worker, claimed!);
        resumeSoon();
        const reply = await result;
        expect(reply.status).toBe(202);
      });
    });

    it('answers 503 AM_ERR_NOT_READY, not a stale claim, when the claim is still not applied after 5 s', async () => {
      const { graphId } = await submit({
        goal: 'slow read model',
        options: { priority: 90 },
        tasks: [{ id: 'late', title: 'L', instructions: 'x' }],
      });
      let claimed: ClaimReply | null = null;
      await withProjectorPaused(async () => {
        claimed = await claim(worker, 0);
        expect(claimed?.task).toMatchObject({ graphId, id: 'late' });
        const refused = await complete(worker, claimed!);
        // The holder would drop a valid result on a 409; a 503 makes it try again.
        expect(refused).toMatchObject({ status: 503, body: { code: 'AM_ERR_NOT_READY' } });
      });
      // Once the read model has the claim, the same result is taken.
      await node.ctx.projector.waitFor(Number(claimed!.claimToken), 5_000);
      expect((await complete(worker, claimed!)).status).toBe(202);
    }, 15_000);
  });

  describe('a command on a graph this server has not projected yet', () => {
    it('reads and commands wait for the graph instead of calling it unknown; a graph not in the stream stays a 404', async () => {
      await withProjectorPaused(async (resumeSoon) => {
        const { graphId } = await submit({
          goal: 'cancel me at once',
          tasks: [{ id: 'a', title: 'A', instructions: '' }],
        });
        expect(node.ctx.projector.graphState(graphId)).toBeNull();
        const reading = call('GET', `/v1/graphs/${graphId}`, ADMIN);
        const cancelling = call('POST', `/v1/graphs/${graphId}/cancel`, ADMIN, {});
        resumeSoon();
        expect(await reading).toMatchObject({ status: 200, body: { graph: { id: graphId } } });
        expect((await cancelling).status).toBe(202);
      });
      const unknown = '/v1/graphs/00000000-0000-4000-8000-000000000001';
      expect(await call('POST', `${unknown}/cancel`, ADMIN, {})).toMatchObject({
        status: 404,
        body: { code: 'AM_ERR_GRAPH_NOT_FOUND' },
      });
      expect(await call('GET', unknown, ADMIN)).toMatchObject({
        status: 404,
        body: { code: 'AM_ERR_GRAPH_NOT_FOUND' },
      });
    });
  });

  describe('a claim token beyond the end of the stream', () => {
    it('is refused at once, not after waiting for the read model to reach it', async () => {
      const { graphId, seq } = await submit({
        goal: 'future token',
        tasks: [{ id: 'f', title: 'F', instructions: 'x' }],
      });
      await node.ctx.projector.waitFor(seq, 5_000);
      const started = performance.now();
      const reply = await call('POST', '/v1/tasks/f/heartbeat', worker, {
        graphId,
        claimToken: String(seq + 1_000_000),
      });
      expect(reply.status).toBe(409);
      expect(reply.body.code).toBe('AM_ERR_STALE_CLAIM');
      expect(performance.now() - started).toBeLessThan(1_000);
    });
  });

  describe('a retry of a request still long-polling', () => {
    it('ends the pending long-poll, which then claims nothing, and answers for both', async () => {
      const drainer = await register('w-drain');
      while (await claim(drainer, 0)) {
        // Leftover READY tasks of earlier tests would be claimed by the long-poll below.
      }
      const requestId = uuidv7();
      const started = Date.now();
      const pendingPoll = claim(worker, 10_000, requestId);
      await new Promise((r) => setTimeout(r, 200));
      expect(await claim(worker, 0, requestId)).toBeNull();
      expect(await pendingPoll).toBeNull();
      expect(Date.now() - started).toBeLessThan(5_000);
      const { graphId } = await submit({
        goal: 'superseded',
        tasks: [{ id: 'late', title: 'Late', instructions: 'x' }],
      });
      await node.ctx.projector.waitFor(await node.ctx.store.lastSeq(), 5_000);
      const graph = (await call('GET', `/v1/graphs/${graphId}`, ADMIN)).body as {
        tasks: { id: string; status: string }[];
      };
      expect(graph.tasks.find((t) => t.id === 'late')?.status).toBe('READY');
      const taken = await claim(drainer, 0);
      expect(taken?.task.id).toBe('late');
    });
  });

  describe('a stale claim token (lease expired, task re-claimed)', () => {
    it('can neither heartbeat nor submit; the new holder can', async () => {
      const other = await register('w-other');
      const { graphId } = await submit({
        goal: 'stale',
        options: { leaseMs: 1_000, priority: 70 },
        tasks: [{ id: 's', title: 'S', instructions: 'x' }],
      });
      const old = await claim(worker);
      expect(old?.task.id).toBe('s');
      // Decided as the manager would once the lease has run out: 1.1 s on, without waiting for it.
      const later = Date.now() + 1_100;
      await handleCommand(
        { ...node.ctx.ports, clock: () => later },
        {
          actor: 'system:manager',
          load: () => node.ctx.projector.graphState(graphId),
          decide: (state, metadata) =>
            decideExpireLease(
              {
                type: 'ExpireLease',
                data: { graphId, taskId: 's', claimToken: old!.claimToken, reason: 'lease_expired' },
                metadata,
              },
              state,
            ),
        },
      );
      const fresh = await claim(other, 5_000);
      expect(fresh?.task.id).toBe('s');
      expect(fresh?.claimToken).not.toBe(old?.claimToken);
      const beat = (token: string, c: ClaimReply) =>
        call('POST', `/v1/tasks/s/heartbeat`, token, { graphId, claimToken: c.claimToken });
      expect((await beat(worker, old!)).body.code).toBe('AM_ERR_STALE_CLAIM');
      expect((await complete(worker, old!)).status).toBe(409);
      expect((await complete(worker, old!)).body.code).toBe('AM_ERR_STALE_CLAIM');
      // The current token from another agent is forbidden, not stale.
      expect((await beat(worker, fresh!)).status).toBe(403);
      expect((await beat(worker, fresh!)).body.code).toBe('AM_ERR_CLAIM_FOREIGN');
      expect((await beat(other, fresh!)).status).toBe(200);
      expect((await complete(other, fresh!)).status).toBe(202);
    });
  });

  describe('an agent revoked after its token was used', () => {
    it('is refused on its next request, on this server at once', async () => {
      const token = await register('w-cached');
      expect((await call('GET', '/v1/graphs', token)).status).toBe(200);
      expect((await call('GET', '/v1/graphs', token)).status).toBe(200);
      expect((await call('POST', '/v1/agents/w-cached/revoke', ADMIN)).status).toBe(202);
      const after = await call('GET', '/v1/graphs', token);
      expect(after.status).toBe(401);
      expect(after.body.code).toBe('AM_ERR_AUTH_REVOKED');
    });
  });

  describe('auth matrix: every route × {no token, bad token, revoked, worker, admin}', () => {
    const graphRoutes = (g: string): Array<[string, string, unknown, 'worker' | 'admin' | 'any']> => [
      ['POST', '/v1/tasks', { goal: 'auth' }, 'admin'],
      ['POST', '/v1/tasks/claim', { requestId: uuidv7(), waitMs: 0 }, 'worker'],
      ['POST', '/v1/tasks/t/heartbeat', { graphId: g, claimToken: '999999' }, 'worker'],
      [
        'POST',
        '/v1/tasks/t/progress',
        { graphId: g, claimToken: '999999', step: { thought: 't', action: { type: 'final', answer: 'a' } } },
        'worker',
      ],
      ['POST', '/v1/tasks/t/release', { graphId: g, claimToken: '999999' }, 'worker'],
      [
        'POST',
        '/v1/results',
        { graphId: g, taskId: 't', claimToken: '999999', status: 'completed', output: 'x', history: [] },
        'worker',
      ],
      ['GET', '/v1/graphs', undefined, 'worker'],
      ['GET', `/v1/graphs/${g}`, undefined, 'worker'],
      ['GET', `/v1/graphs/${g}/events`, undefined, 'worker'],
      ['POST', `/v1/graphs/${g}/cancel`, {}, 'admin'],
      ['POST', `/v1/graphs/${g}/retry`, undefined, 'admin'],
      ['POST', '/v1/agents', { agentId: `auth-${uuidv7().slice(-8)}`, role: 'worker' }, 'admin'],
      ['GET', '/v1/agents', undefined, 'admin'],
      ['POST', '/v1/agents/nobody/revoke', undefined, 'admin'],
      ['GET', '/metrics', undefined, 'any'],
      ['GET', '/docs/json', undefined, 'any'],
    ];

    it('answers 401 without or with a bad or revoked token, 403 for a worker on admin routes, and lets the right role through', async () => {
      const { graphId, seq } = await submit({
        goal: 'auth target',
        tasks: [{ id: 't', title: 'T', instructions: 'x' }],
      });
      await node.ctx.projector.waitFor(seq, 5_000);
      const failures: string[] = [];
      for (const [method, path, body, role] of graphRoutes(graphId)) {
        const expect401 = async (token: string | null, code: string) => {
          const reply = await call(method, path, token, body);
          if (
            reply.status !== 401 ||
            reply.body?.code !== code ||
            !reply.type.includes('application/problem+json')
          ) {
            failures.push(`${method} ${path} with ${code}: ${reply.status} ${reply.body?.code}`);
          }
        };
        await expect401(null, 'AM_ERR_AUTH_MISSING');
        await expect401('not-a-real-token', 'AM_ERR_AUTH_INVALID');
        await expect401(revoked, 'AM_ERR_AUTH_REVOKED');
        const asWorker = await call(method, path, worker, body);
        if (
          role === 'admin' &&
          (asWorker.status !== 403 || asWorker.body?.code !== 'AM_ERR_AUTH_FORBIDDEN')
        ) {
          failures.push(`${method} ${path} as worker: ${asWorker.status}`);
        }
        if (role !== 'admin' && (asWorker.status === 401 || asWorker.status === 403)) {
          failures.push(`${method} ${path} as worker refused: ${asWorker.status}`);
        }
        const asAdmin = await call(method, path, ADMIN, body);
        if (asAdmin.status === 401 || asAdmin.status === 403)
          failures.push(`${method} ${path} as admin: ${asAdmin.status}`);
      }
      expect(failures).toEqual([]);
      expect((await call('GET', '/healthz', null)).status).toBe(200);
    });

    it('answers /readyz without a token with the verdict alone, and its details only to a valid token', async () => {
      const bare = await call('GET', '/readyz', null);
      expect(bare.status).toBe(200);
      expect(bare.body).toEqual({ ready: true });
      const detailed = await call('GET', '/readyz', worker);
      expect(detailed.status).toBe(200);
      expect(detailed.body).toMatchObject({
        ready: true,
        appliedSeq: expect.any(Number),
        lag: expect.any(Number),
      });
      for (const [token, code] of [
        ['not-a-real-token', 'AM_ERR_AUTH_INVALID'],
        [revoked, 'AM_ERR_AUTH_REVOKED'],
      ] as const) {
        const refused = await call('GET', '/readyz', token);
        expect({ status: refused.status, code: refused.body?.code }).toEqual({ status: 401, code });
      }
    });
  });

  describe('bad input', () => {
    const cases: Array<[string, string, string, unknown, number, string]> = [
      ['wrong types', 'POST', '/v1/tasks', { goal: 42 }, 400, 'AM_ERR_VALIDATION'],
      ['a missing field', 'POST', '/v1/tasks', { tasks: [] }, 400, 'AM_ERR_VALIDATION'],
      ['an unknown field', 'POST', '/v1/tasks', { goal: 'x', bogus: true }, 400, 'AM_ERR_VALIDATION'],
      [
        'a misspelt option',
        'POST',
        '/v1/tasks',
        { goal: 'x', options: { maxReworkCycle: 5 } },
        400,
        'AM_ERR_VALIDATION',
      ],
      [
        'an unknown field in a task',
        'POST',
        '/v1/tasks',
        { goal: 'x', tasks: [{ id: 'a', title: 'a', instructions: '', dependson: ['b'] }] },
        400,
        'AM_ERR_VALIDATION',
      ],
      [
        'a cyclic graph',
        'POST',
        '/v1/tasks',
        {
          goal: 'x',
          tasks: [
            { id: 'a', title: 'a', instructions: '', dependsOn: ['b'] },
            { id: 'b', title: 'b', instructions: '', dependsOn: ['a'] },
          ],
        },
        400,
        'AM_ERR_GRAPH_CYCLIC',
      ],
      [
        'an unknown dependency',
        'POST',
        '/v1/tasks',
        { goal: 'x', tasks: [{ id: 'a', title: 'a', instructions: '', dependsOn: ['zz'] }] },
        400,
        'AM_ERR_GRAPH_INVALID',
      ],
      [
        'a malformed task id',
        'POST',
        '/v1/tasks',
        { goal: 'x', tasks: [{ id: 'bad id!', title: 'a', instructions: '' }] },
        400,
        'AM_ERR_VALIDATION',
      ],
      [
        'a reserved task id',
        'POST',
        '/v1/tasks',
        { goal: 'x', tasks: [{ id: '_synthesis', title: 'a', instructions: '' }] },
        400,
        'AM_ERR_VALIDATION',
      ],
      ['malformed JSON', 'POST', '/v1/tasks', '{"goal":', 400, 'AM_ERR_VALIDATION'],
      ['a huge body', 'POST', '/v1/tasks', { goal: 'x'.repeat(100 * 1024) }, 413, 'AM_ERR_PAYLOAD_TOO_LARGE'],
      ['a malformed graph id', 'GET', '/v1/graphs/not-a-uuid', undefined, 400, 'AM_ERR_VALIDATION'],
      ['a made-up cursor', 'GET', '/v1/graphs?cursor=garbage', undefined, 400, 'AM_ERR_VALIDATION'],
      [
        'an unknown graph',
        'GET',
        '/v1/graphs/00000000-0000-4000-8000-000000000000',
        undefined,
        404,
        'AM_ERR_GRAPH_NOT_FOUND',
      ],
      [
        'an unknown graph to cancel',
        'POST',
        '/v1/graphs/00000000-0000-4000-8000-000000000000/cancel',
        {},
        404,
        'AM_ERR_GRAPH_NOT_FOUND',
      ],
      [
        'a result for an unknown task',
        'POST',
        '/v1/results',
        {
          graphId: '00000000-0000-4000-8000-000000000000',
          taskId: 'x',
          claimToken: '1',
          status: 'completed',
          output: 'o',
          history: [],
        },
        404,
        'AM_ERR_GRAPH_NOT_FOUND',
      ],
      [
        'a completed result without output',
        'POST',
        '/v1/results',
        {
          graphId: '00000000-0000-4000-8000-000000000000',
          taskId: 'x',
          claimToken: '1',
          status: 'completed',
          history: [],
        },
        400,
        'AM_ERR_VALIDATION',
      ],
      [
        'a bad claim token',
        'POST',
        '/v1/tasks/x/heartbeat',
        { graphId: '00000000-0000-4000-8000-000000000000', claimToken: 'abc' },
        400,
        'AM_ERR_VALIDATION',
      ],
      [
        'waitMs over 30 s',
        'POST',
        '/v1/tasks/claim',
        { requestId: 'r', waitMs: 60_000 },
        400,
        'AM_ERR_VALIDATION',
      ],
      ['an unknown route', 'GET', '/v1/nope', undefined, 404, 'AM_ERR_ROUTE_NOT_FOUND'],
    ];

    it.each(cases)(
      '%s gets a 4xx problem+json with its code and appends nothing',
      async (_name, method, path, body, status, code) => {
        const token =
          path.startsWith('/v1/results') || path.includes('/heartbeat') || path.endsWith('/claim')
            ? worker
            : ADMIN;
        const before = await node.ctx.store.lastSeq();
        const reply = await call(method, path, token, body);
        expect(reply.status).toBe(status);
        expect(reply.type).toContain('application/problem+json');
        expect(reply.body.code).toBe(code);
        expect(await node.ctx.store.lastSeq()).toBe(before);
      },
    );

    it('names the field that failed validation', async () => {
      const reply = await call('POST', '/v1/tasks', ADMIN, {
        goal: 'x',
        tasks: [{ id: 'ok', title: 7, instructions: '' }],
      });
      expect(reply.body.field).toBe('tasks.0.title');
      expect(String(reply.body.detail)).toMatch(/^tasks\.0\.title: /);
    });
  });
});
