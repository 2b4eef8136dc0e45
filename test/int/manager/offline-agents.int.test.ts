import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgents } from '../../../src/agents/index.ts';
import { managerAgents } from '../../../src/manager/index.ts';
import type { AppContext } from '../../../src/node/app-context.ts';
import { waitUntil } from '../../kit/index.ts';
import {
  eventsOf,
  graph,
  type ManagerCluster,
  runCycle,
  runTask,
  startManagerCluster,
  submitGraph,
  waitForStatus,
} from './manager-fixtures.ts';

describe('Manager with the offline agents', () => {
  let cluster: ManagerCluster;
  let ctx: AppContext;

  beforeAll(async () => {
    cluster = await startManagerCluster('offline');
    ctx = await cluster.addNode();
    const agents = managerAgents(createAgents({ provider: 'offline' }));
    cluster.startManager(ctx, { agents, intervalMs: 100, graceMs: 0 });
  });

  afterAll(async () => {
    await cluster?.cleanup();
  });

  describe('when a goal is submitted and its tasks are done well', () => {
    it('plans it offline, audits it, and succeeds after the synthesis', async () => {
      const graphId = await submitGraph(ctx, { goal: 'Compare three sorting algorithms and recommend one' });
      const planned = await waitForStatus(ctx, graphId, 'RUNNING');
      const [event] = await eventsOf(ctx, graphId, 'GraphPlanned');
      expect(event?.data.planner).toBe('offline');
      // An output that repeats the task's own words passes the offline auditor's keyword check.
      const work = [...planned.tasks.values()].filter((t) => t.kind === 'work');
      const text = new Map(work.map((t) => [t.id, `${t.title}. ${t.instructions}`]));
      await runCycle(ctx, graphId, (id) => text.get(id) ?? id);
      await waitForStatus(ctx, graphId, 'SYNTHESIZING');
      expect(ctx.readModel.audits.auditsOf(graphId).map((a) => a.passed)).toEqual([true]);
      await runTask(ctx, graphId, '_synthesis', 'the recommendation');
      await waitForStatus(ctx, graphId, 'SUCCEEDED');
      expect(graph(ctx, graphId).output).toBe('the recommendation');
    });
  });

  describe('when a task output carries the bad-once marker', () => {
    it('reworks that task in cycle 2 and passes then', async () => {
      const graphId = await submitGraph(ctx, {
        goal: 'two facts',
        tasks: [
          { id: 'first', title: 'First fact', instructions: 'state the first fact' },
          { id: 'second', title: 'Second fact', instructions: 'state the second fact', dependsOn: ['first'] },
        ],
      });
      await runCycle(ctx, graphId, (id) =>
        id === 'first' ? 'the first fact [[BAD-ONCE]]' : 'the second fact',
      );
      await waitUntil(() => graph(ctx, graphId).cycle === 2, { message: 'rework cycle' });
      const [failed] = await eventsOf(ctx, graphId, 'AuditFailed');
      expect(failed?.data.rework).toEqual(['first', 'second']);
      await runCycle(ctx, graphId, (id) => `the ${id} fact`);
      await waitForStatus(ctx, graphId, 'SYNTHESIZING');
      expect(ctx.readModel.audits.auditsOf(graphId).map((a) => [a.cycle, a.passed])).toEqual([
        [1, false],
        [2, true],
      ]);
    });
  });
});
