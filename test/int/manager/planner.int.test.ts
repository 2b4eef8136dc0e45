import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../../src/errors.ts';
import type { AppContext } from '../../../src/node/app-context.ts';
import type { TaskSpec } from '../../../src/protocol/index.ts';
import { FakeClock } from '../../kit/index.ts';
import {
  eventsOf,
  graph,
  type ManagerCluster,
  startManagerCluster,
  stubAgents,
  submitGraph,
  waitForStatus,
} from './manager-fixtures.ts';

const PLAN: TaskSpec[] = [
  { id: 'research', title: 'Research', instructions: 'find facts' },
  { id: 'write', title: 'Write', instructions: 'write it up', dependsOn: ['research'] },
];

/** The planner's marker leases, backoffs and call timeouts run on a fake clock the tests drive. */
describe('Planner', () => {
  let cluster: ManagerCluster;
  let ctx: AppContext;
  const clock = new FakeClock();
  const until = (graphId: string, status: string) =>
    clock.runUntil(() => graph(ctx, graphId).status === status, { message: `${graphId} ${status}` });

  beforeAll(async () => {
    cluster = await startManagerCluster('planner');
    ctx = await cluster.addNode({ clock });
  });

  afterAll(async () => {
    await cluster?.cleanup();
  });

  const fast = { intervalMs: 100, graceMs: 0, markerMs: 1_000, llmRetryBaseMs: 50 };

  describe('when a goal graph is submitted', () => {
    it('plans it once and the graph runs with its roots READY', async () => {
      const usage = { promptTokens: 200, completionTokens: 50, totalTokens: 250 };
      const agents = stubAgents({ plan: async () => ({ tasks: PLAN, planner: 'stub-planner', usage }) });
      const manager = cluster.startManager(ctx, { agents, ...fast });
      try {
        const graphId = await submitGraph(ctx, { goal: 'write a report' });
        const planned = await waitForStatus(ctx, graphId, 'RUNNING');
        expect([...planned.tasks.keys()]).toEqual(['research', 'write', '_synthesis']);
        expect(planned.tasks.get('research')?.status).toBe('READY');
        const [event] = await eventsOf(ctx, graphId, 'GraphPlanned');
        expect(event).toMatchObject({ actor: 'system:manager', data: { planner: 'stub-planner', usage } });
        expect(await eventsOf(ctx, graphId, 'PlanningStarted')).toHaveLength(1);
        expect(agents.planCalls).toEqual(['write a report']);
      } finally {
        await manager.stop();
      }
    });
  });

  describe('when an explicit graph is submitted', () => {
    it('never calls the planner', async () => {
      const agents = stubAgents({ plan: async () => ({ tasks: PLAN, planner: 'stub-planner' }) });
      const manager = cluster.startManager(ctx, { agents, ...fast });
      try {
        const graphId = await submitGraph(ctx, { goal: 'explicit', tasks: PLAN });
        expect(graph(ctx, graphId).status).toBe('RUNNING');
        // Sweeps have run over it and whatever they started is done.
        await clock.advance(300);
        await manager.idle();
        expect(agents.planCalls).toEqual([]);
        expect(await eventsOf(ctx, graphId, 'PlanningStarted')).toHaveLength(0);
      } finally {
        await manager.stop();
      }
    });
  });

  describe('when the planner returns an invalid plan once', () => {
    it('asks again under the next marker and records the valid plan', async () => {
      const cyclic: TaskSpec[] = [
        { id: 'a', title: 'A', instructions: 'a', dependsOn: ['b'] },
        { id: 'b', title: 'B', instructions: 'b', dependsOn: ['a'] },
      ];
      let calls = 0;
      const agents = stubAgents({
        plan: async () => ({ tasks: calls++ === 0 ? cyclic : PLAN, planner: 'stub-planner' }),
      });
      const manager = cluster.startManager(ctx, { agents, ...fast });
      try {
        const graphId = await submitGraph(ctx, { goal: 'retry me' });
        await until(graphId, 'RUNNING');
        const markers = await eventsOf(ctx, graphId, 'PlanningStarted');
        expect(markers.map((m) => m.data.attempt)).toEqual([1, 2]);
        expect(agents.planCalls).toHaveLength(2);
      } finally {
        await manager.stop();
      }
    });
  });

  describe('when the planner always fails', () => {
    it('ends in GraphPlanningFailed with the error code after the capped attempts', async () => {
      const agents = stubAgents({
        plan: async () => {
          throw new AppError('AM_ERR_LLM_UNAVAILABLE', 'the model endpoint answered 503');
        },
      });
      const manager = cluster.startManager(ctx, { agents, ...fast, maxMarkerAttempts: 3 });
      try {
        const graphId = await submitGraph(ctx, { goal: 'doomed' });
        await until(graphId, 'FAILED');
        const failed = graph(ctx, graphId);
        expect(failed.failure?.reason).toBe('planning_failed');
        const [event] = await eventsOf(ctx, graphId, 'GraphPlanningFailed');
        expect(event?.data).toEqual({
          code: 'AM_ERR_LLM_UNAVAILABLE',
          message: 'the model endpoint answered 503',
        });
        const markers = await eventsOf(ctx, graphId, 'PlanningStarted');
        expect(markers.map((m) => m.data.attempt)).toEqual([1, 2, 3]);
        expect(agents.planCalls).toHaveLength(3);
      } finally {
        await manager.stop();
      }
    });
  });

  describe('when the planner never answers', () => {
    it('abandons the call at the timeout and fails planning with AM_ERR_LLM_UNAVAILABLE', async () => {
      // A planner that ignores its abort signal: the manager must not hang on it.
      const agents = stubAgents({ plan: () => new Promise(() => {}) });
      const manager = cluster.startManager(ctx, {
        agents,
        ...fast,
        maxMarkerAttempts: 2,
        llmTimeoutMs: 300,
      });
      try {
        const graphId = await submitGraph(ctx, { goal: 'silence' });
        await until(graphId, 'FAILED');
        const [event] = await eventsOf(ctx, graphId, 'GraphPlanningFailed');
        expect(event?.data.code).toBe('AM_ERR_LLM_UNAVAILABLE');
        expect(agents.planCalls).toHaveLength(2);
      } finally {
        await manager.stop();
      }
    });
  });
});
