import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manager } from '../../../src/manager/index.ts';
import type { AppContext } from '../../../src/node/app-context.ts';
import { FakeClock } from '../../kit/index.ts';
import {
  caughtUp,
  eventsOf,
  graph,
  type ManagerCluster,
  passed,
  runCycle,
  runTask,
  startManagerCluster,
  stubAgents,
  submitGraph,
  waitForStatus,
} from './manager-fixtures.ts';

const TASKS = [
  { id: 'a', title: 'A', instructions: 'first' },
  { id: 'b', title: 'B', instructions: 'second', dependsOn: ['a'] },
  { id: 'c', title: 'C', instructions: 'third', dependsOn: ['a'] },
];

describe('Cycle completion and synthesis with two managers on one stream', () => {
  let cluster: ManagerCluster;
  let one: AppContext;
  let two: AppContext;
  const managers: Manager[] = [];
  const clock = new FakeClock();

  /**
   * Lets both managers' level sweeps run a few times over the read model as it stands, and waits until
   * whatever they started is done: a second GraphCompleted, say, would be in the stream by then.
   */
  async function sweepsHaveRun(): Promise<void> {
    await caughtUp(one, two);
    await caughtUp(two, one);
    await clock.advance(300);
    await Promise.all(managers.map((manager) => manager.idle()));
    await caughtUp(one, two);
    await caughtUp(two, one);
  }

  beforeAll(async () => {
    cluster = await startManagerCluster('cycle');
    one = await cluster.addNode({ clock });
    two = await cluster.addNode({ clock });
    const agents = stubAgents({ audit: async () => passed() });
    managers.push(cluster.startManager(one, { agents, intervalMs: 100, graceMs: 0 }));
    managers.push(cluster.startManager(two, { agents, intervalMs: 100, graceMs: 0 }));
  });

  afterAll(async () => {
    await cluster?.cleanup();
  });

  describe('when the last work task of a cycle completes', () => {
    it('appends GraphCompleted exactly once and moves the graph to its audit', async () => {
      const graphId = await submitExplicit();
      await runCycle(one, graphId);
      await waitForStatus(one, graphId, 'SYNTHESIZING');
      await waitForStatus(two, graphId, 'SYNTHESIZING');
      await sweepsHaveRun();
      const completed = await eventsOf(one, graphId, 'GraphCompleted');
      expect(completed.map((e) => e.data.cycle)).toEqual([1]);
      expect(await eventsOf(one, graphId, 'AuditPassed')).toHaveLength(1);
    });
  });

  describe('when many graphs complete at once', () => {
    it('completes each cycle exactly once', async () => {
      const graphIds = await Promise.all(Array.from({ length: 5 }, () => submitExplicit()));
      await caughtUp(one, two);
      await Promise.all(graphIds.map((graphId, i) => runCycle(i % 2 === 0 ? one : two, graphId)));
      for (const graphId of graphIds) await waitForStatus(one, graphId, 'SYNTHESIZING');
      await sweepsHaveRun();
      for (const graphId of graphIds) {
        expect(await eventsOf(one, graphId, 'GraphCompleted')).toHaveLength(1);
      }
    });
  });

  describe('when the synthesis task completes', () => {
    it('succeeds the graph with the synthesis output, once', async () => {
      const graphId = await submitExplicit();
      await caughtUp(one, two);
      await runCycle(two, graphId);
      await waitForStatus(one, graphId, 'SYNTHESIZING');
      await runTask(one, graphId, '_synthesis', 'the final answer');
      const done = await waitForStatus(two, graphId, 'SUCCEEDED');
      expect(done.output).toBe('the final answer');
      await sweepsHaveRun();
      expect(await eventsOf(one, graphId, 'GraphSucceeded')).toHaveLength(1);
      expect(graph(one, graphId).status).toBe('SUCCEEDED');
    });
  });

  async function submitExplicit(): Promise<string> {
    return submitGraph(one, { goal: 'three steps', tasks: TASKS });
  }
});
