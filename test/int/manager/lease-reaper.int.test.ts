import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../../src/node/app-context.ts';
import { waitUntil } from '../../kit/index.ts';
import {
  claim,
  complete,
  eventsOf,
  graph,
  heartbeat,
  type ManagerCluster,
  retryGraph,
  runCycle,
  sleep,
  startManagerCluster,
  stubAgents,
  submitGraph,
  waitForStatus,
} from './manager-fixtures.ts';

const ONE_TASK = [{ id: 'only', title: 'Only', instructions: 'do it' }];
const LEASE_MS = 1_000;

describe('Lease reaper', () => {
  let cluster: ManagerCluster;
  let ctx: AppContext;
  const agents = stubAgents({});

  beforeAll(async () => {
    cluster = await startManagerCluster('leases');
    ctx = await cluster.addNode();
  });

  afterAll(async () => {
    await cluster?.cleanup();
  });

  describe('when the holder of a claim stops heartbeating', () => {
    it('returns the task to READY with the attempt used, offered again only after the backoff', async () => {
      const manager = cluster.startManager(ctx, { agents, intervalMs: 5_000, graceMs: 0 });
      try {
        const graphId = await submitGraph(ctx, {
          goal: 'g',
          tasks: ONE_TASK,
          options: { leaseMs: LEASE_MS },
        });
        const token = await claim(ctx, graphId, 'only');
        const leaseUntil = graph(ctx, graphId).tasks.get('only')?.claim?.leaseUntil ?? 0;
        // The interval is 5 s: only the timer armed at the lease end can take it back this soon.
        await waitUntil(() => graph(ctx, graphId).tasks.get('only')?.status === 'READY', {
          timeoutMs: 3_000,
        });
        const [expired] = await eventsOf(ctx, graphId, 'TaskLeaseExpired');
        expect(expired?.data).toMatchObject({ claimToken: token, reason: 'lease_expired' });
        expect(Date.parse(expired?.at ?? '')).toBeGreaterThanOrEqual(leaseUntil);
        expect(Date.parse(expired?.at ?? '')).toBeLessThan(leaseUntil + 500);
        const task = graph(ctx, graphId).tasks.get('only');
        expect(task?.attempts).toBe(1);
        expect(task?.availableAt).toBe(expired?.data.retryAt);
        expect(expired?.data.retryAt).toBeGreaterThan(Date.parse(expired?.at ?? ''));
        const again = await claim(ctx, graphId, 'only', 'worker-2');
        expect(Date.now()).toBeGreaterThanOrEqual(expired?.data.retryAt ?? 0);
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
        await claim(ctx, graphId, 'only', 'worker-1', 5_000);
        const failed = await waitForStatus(ctx, graphId, 'FAILED', 5_000);
        expect(failed.failure?.reason).toBe('task_failed');
        expect(failed.tasks.get('only')?.status).toBe('FAILED');
        const [taskFailed] = await eventsOf(ctx, graphId, 'TaskFailed');
        expect(taskFailed?.data).toMatchObject({
          reason: 'attempts_exhausted',
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
      await sleep(aliveLease + 200 - Date.now());
      // The default grace is the longest lease among the claims held at start.
      const manager = cluster.startManager(ctx, { agents, intervalMs: 100 });
      try {
        await sleep(300);
        expect(graph(ctx, silentId).tasks.get('only')?.status).toBe('CLAIMED');
        expect(graph(ctx, aliveId).tasks.get('only')?.status).toBe('CLAIMED');
        await heartbeat(ctx, aliveId, 'only', aliveToken);
        await waitUntil(() => graph(ctx, silentId).tasks.get('only')?.status === 'READY', {
          timeoutMs: 3_000,
        });
        const [expired] = await eventsOf(ctx, silentId, 'TaskLeaseExpired');
        expect(Date.parse(expired?.at ?? '')).toBeGreaterThanOrEqual(silentLease + LEASE_MS);
        await sleep(aliveLease + LEASE_MS + 100 - Date.now());
        expect(graph(ctx, aliveId).tasks.get('only')?.claim?.token).toBe(aliveToken);
      } finally {
        await manager.stop();
      }
    });

    it('takes back a claim whose lease ends after the grace without delay', async () => {
      const manager = cluster.startManager(ctx, { agents, intervalMs: 100, graceMs: 200 });
      try {
        await sleep(250);
        const graphId = await submitGraph(ctx, {
          goal: 'g',
          tasks: ONE_TASK,
          options: { leaseMs: LEASE_MS },
        });
        await claim(ctx, graphId, 'only');
        const leaseUntil = graph(ctx, graphId).tasks.get('only')?.claim?.leaseUntil ?? 0;
        await waitUntil(() => graph(ctx, graphId).tasks.get('only')?.status === 'READY', {
          timeoutMs: 3_000,
        });
        const [expired] = await eventsOf(ctx, graphId, 'TaskLeaseExpired');
        expect(Date.parse(expired?.at ?? '')).toBeLessThan(leaseUntil + LEASE_MS / 2);
      } finally {
        await manager.stop();
      }
    });
  });

  describe('when an attempt runs past the graph timeoutMs', () => {
    it('takes the claim back with reason timeout even while its holder heartbeats', async () => {
      const manager = cluster.startManager(ctx, { agents, intervalMs: 5_000, graceMs: 0 });
      try {
        const graphId = await submitGraph(ctx, {
          goal: 'g',
          tasks: ONE_TASK,
          options: { leaseMs: LEASE_MS, timeoutMs: 1_500, maxAttempts: 3 },
        });
        const token = await claim(ctx, graphId, 'only');
        const claimedAt = graph(ctx, graphId).tasks.get('only')?.claim?.claimedAt ?? 0;
        const beating = (async () => {
          while (graph(ctx, graphId).tasks.get('only')?.claim?.token === token) {
            await heartbeat(ctx, graphId, 'only', token).catch(() => {});
            await sleep(250);
          }
        })();
        await waitUntil(() => graph(ctx, graphId).tasks.get('only')?.status === 'READY', {
          timeoutMs: 4_000,
        });
        await beating;
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
