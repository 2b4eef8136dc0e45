import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../../src/node/app-context.ts';
import { FakeClock, waitUntil } from '../../kit/index.ts';
import {
  claim,
  claimOnce,
  complete,
  eventsOf,
  graph,
  heartbeat,
  type ManagerCluster,
  retryGraph,
  runCycle,
  startManagerCluster,
  stubAgents,
  submitGraph,
  waitForStatus,
} from './manager-fixtures.ts';

const ONE_TASK = [{ id: 'only', title: 'Only', instructions: 'do it' }];
const LEASE_MS = 1_000;

/**
 * The lease reaper on a fake clock: time moves only when the test advances it, so "the lease ran out" takes
 * no real time, and "nothing happened" is asserted once the manager is idle, not after a sleep.
 */
describe('Lease reaper', () => {
  let cluster: ManagerCluster;
  let ctx: AppContext;
  const clock = new FakeClock();
  const agents = stubAgents({});

  beforeAll(async () => {
    cluster = await startManagerCluster('leases');
    ctx = await cluster.addNode({ clock });
  });

  afterAll(async () => {
    await cluster?.cleanup();
  });

  const status = (graphId: string) => graph(ctx, graphId).tasks.get('only')?.status;
  const untilReady = (graphId: string) =>
    waitUntil(() => status(graphId) === 'READY', { message: `${graphId} READY again` });

  describe('when the holder of a claim stops heartbeating', () => {
    it('returns the task to READY at the lease end, with the attempt used, offered again only after the backoff', async () => {
      // The level sweep never runs in this test: only the timer armed at the lease end can take it back.
      const manager = cluster.startManager(ctx, { agents, intervalMs: 60_000, graceMs: 0 });
      try {
        const graphId = await submitGraph(ctx, {
          goal: 'g',
          tasks: ONE_TASK,
          options: { leaseMs: LEASE_MS },
        });
        const token = await claim(ctx, graphId, 'only');
        const leaseUntil = graph(ctx, graphId).tasks.get('only')?.claim?.leaseUntil ?? 0;
        await clock.advance(LEASE_MS - 1);
        await manager.idle();
        expect(status(graphId)).toBe('CLAIMED');
        await clock.advance(2);
        await untilReady(graphId);
        const [expired] = await eventsOf(ctx, graphId, 'TaskLeaseExpired');
        expect(expired?.data).toMatchObject({ claimToken: token, reason: 'lease_expired' });
        // Taken back at the first millisecond past the lease: the timer's +1.
        expect(Date.parse(expired?.at ?? '')).toBe(leaseUntil + 1);
        const task = graph(ctx, graphId).tasks.get('only');
        expect(task?.attempts).toBe(1);
        const retryAt = expired?.data.retryAt ?? 0;
        expect(task?.availableAt).toBe(retryAt);
        expect(retryAt).toBeGreaterThan(clock.now());
        expect(await claimOnce(ctx, graphId, 'only', 'worker-2')).toEqual({
          refused: 'AM_ERR_TASK_NOT_READY',
        });
        await clock.advance(retryAt - clock.now());
        const again = await claim(ctx, graphId, 'only', 'worker-2');
        expect(graph(ctx, graphId).tasks.get('only')?.claim).toMatchObject({ token: again, attempt: 2 });
      } finally {
        await manager.stop();
      }
    });
  });

  describe('when every attempt loses its lease', () => {
    it('fails the task and the graph with task_failed; a retry gives a new budget and the graph goes on', async () => {
      const manager = cluster.startManager(ctx, { agents, intervalMs: 200, graceMs: 0 });
      try {
        const graphId = await submitGraph(ctx, {
          goal: 'g',
          tasks: ONE_TASK,
          options: { leaseMs: LEASE_MS, maxAttempts: 2 },
        });
        await claim(ctx, graphId, 'only');
        await clock.advance(LEASE_MS + 1);
        await untilReady(graphId);
        const retryAt = graph(ctx, graphId).tasks.get('only')?.availableAt ?? 0;
        await clock.advance(retryAt - clock.now());
        await claim(ctx, graphId, 'only');
        await clock.advance(LEASE_MS + 1);
        const failed = await waitForStatus(ctx, graphId, 'FAILED');
        expect(failed.failure?.reason).toBe('task_failed');
        expect(failed.tasks.get('only')?.status).toBe('FAILED');
        const [taskFailed] = await eventsOf(ctx, graphId, 'TaskFailed');
        expect(taskFailed?.data).toMatchObject({
          reason: 'attempts_exhausted',
          decidedBy: 'manager',
          error: { code: 'lease_expired' },
        });
        const [graphFailed] = await eventsOf(ctx, graphId, 'GraphFailed');
        expect(graphFailed?.data).toMatchObject({ reason: 'task_failed', tasks: ['only'] });

        await retryGraph(ctx, graphId);
        expect(graph(ctx, graphId).status).toBe('RUNNING');
        await runCycle(ctx, graphId);
        // The stub auditor passes at once: the retried graph runs on to its synthesis.
        await waitForStatus(ctx, graphId, 'SYNTHESIZING');
        expect(await eventsOf(ctx, graphId, 'GraphCompleted')).toHaveLength(1);
      } finally {
        await manager.stop();
      }
    });
  });

  describe('right after a manager (re)start', () => {
    it('gives claims that lapsed while no manager ran one more lease, and keeps those heartbeating again', async () => {
      const options = { leaseMs: LEASE_MS };
      const silentId = await submitGraph(ctx, { goal: 'g', tasks: ONE_TASK, options });
      const aliveId = await submitGraph(ctx, { goal: 'g', tasks: ONE_TASK, options });
      await claim(ctx, silentId, 'only');
      const aliveToken = await claim(ctx, aliveId, 'only');
      const silentLease = graph(ctx, silentId).tasks.get('only')?.claim?.leaseUntil ?? 0;
      const aliveLease = graph(ctx, aliveId).tasks.get('only')?.claim?.leaseUntil ?? 0;
      // No manager while both leases run out (AM was down, workers could not heartbeat).
      await clock.advance(aliveLease + 200 - clock.now());
      // The default grace is the longest lease among the claims held at start.
      const manager = cluster.startManager(ctx, { agents, intervalMs: 100 });
      try {
        await clock.advance(300);
        await manager.idle();
        expect(status(silentId)).toBe('CLAIMED');
        expect(status(aliveId)).toBe('CLAIMED');
        await heartbeat(ctx, aliveId, 'only', aliveToken);
        await clock.advance(silentLease + LEASE_MS + 1 - clock.now());
        await untilReady(silentId);
        const [expired] = await eventsOf(ctx, silentId, 'TaskLeaseExpired');
        expect(Date.parse(expired?.at ?? '')).toBeGreaterThanOrEqual(silentLease + LEASE_MS);
        // The alive claim's grace ended too, but its heartbeat extended the lease past it.
        await clock.advance(aliveLease + LEASE_MS + 100 - clock.now());
        await manager.idle();
        expect(graph(ctx, aliveId).tasks.get('only')?.claim?.token).toBe(aliveToken);
      } finally {
        await manager.stop();
      }
    });

    it('takes back a claim whose lease ends after the grace without delay', async () => {
      const manager = cluster.startManager(ctx, { agents, intervalMs: 100, graceMs: 200 });
      try {
        await clock.advance(250);
        const graphId = await submitGraph(ctx, {
          goal: 'g',
          tasks: ONE_TASK,
          options: { leaseMs: LEASE_MS },
        });
        await claim(ctx, graphId, 'only');
        const leaseUntil = graph(ctx, graphId).tasks.get('only')?.claim?.leaseUntil ?? 0;
        await clock.advance(LEASE_MS + 1);
        await untilReady(graphId);
        const [expired] = await eventsOf(ctx, graphId, 'TaskLeaseExpired');
        expect(Date.parse(expired?.at ?? '')).toBeLessThanOrEqual(leaseUntil + 1);
      } finally {
        await manager.stop();
      }
    });
  });

  describe('when an attempt runs past the graph timeoutMs', () => {
    it('takes the claim back with reason timeout even while its holder heartbeats', async () => {
      const manager = cluster.startManager(ctx, { agents, intervalMs: 60_000, graceMs: 0 });
      try {
        const graphId = await submitGraph(ctx, {
          goal: 'g',
          tasks: ONE_TASK,
          options: { leaseMs: LEASE_MS, timeoutMs: 1_500, maxAttempts: 3 },
        });
        const token = await claim(ctx, graphId, 'only');
        const claimedAt = graph(ctx, graphId).tasks.get('only')?.claim?.claimedAt ?? 0;
        // Heartbeats every 250 ms of the fake clock keep the lease alive; only the timeout ends the attempt.
        while (graph(ctx, graphId).tasks.get('only')?.claim?.token === token) {
          await heartbeat(ctx, graphId, 'only', token).catch(() => {});
          await ctx.projector.waitFor(await ctx.store.lastSeq(), 5_000);
          await clock.advance(250);
          await manager.idle();
        }
        await untilReady(graphId);
        const [expired] = await eventsOf(ctx, graphId, 'TaskLeaseExpired');
        expect(expired?.data).toMatchObject({ claimToken: token, reason: 'timeout' });
        expect(Date.parse(expired?.at ?? '')).toBeGreaterThanOrEqual(claimedAt + 1_500);
        expect((await eventsOf(ctx, graphId, 'TaskLeaseExtended')).length).toBeGreaterThan(2);
        // The late result of the timed-out attempt is refused: its claim is no longer current.
        await expect(complete(ctx, graphId, 'only', token, 'too late')).rejects.toMatchObject({
          code: 'AM_ERR_STALE_CLAIM',
        });
      } finally {
        await manager.stop();
      }
    });
  });
});
