import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../../../src/node/app-context.ts';
import { FakeClock, waitUntil } from '../../kit/index.ts';
import {
  caughtUp,
  eventsOf,
  failedNaming,
  hangUntilAborted,
  type ManagerCluster,
  passed,
  runCycle,
  startManagerCluster,
  stubAgents,
  submitGraph,
} from './manager-fixtures.ts';

const TASKS = [
  { id: 'a', title: 'A', instructions: 'first' },
  { id: 'b', title: 'B', instructions: 'second', dependsOn: ['a'] },
];
const MARKER_MS = 1_000;
const fast = { intervalMs: 100, graceMs: 0, markerMs: MARKER_MS, llmRetryBaseMs: 50 };

/** Two nodes on one fake clock: marker leases, renewals and the LLM calls' own time are the test's to move. */
describe('Two managers on one stream', () => {
  let cluster: ManagerCluster;
  let one: AppContext;
  let two: AppContext;
  const clock = new FakeClock();
  const until = (ctx: AppContext, graphId: string, status: string) =>
    clock.runUntil(() => ctx.projector.graphState(graphId)?.status === status, {
      message: `${graphId} ${status}`,
    });

  beforeAll(async () => {
    cluster = await startManagerCluster('two');
    one = await cluster.addNode({ clock });
    two = await cluster.addNode({ clock });
  });

  afterAll(async () => {
    await cluster?.cleanup();
  });

  describe('when both see a completed cycle at once', () => {
    it('records exactly one audit outcome per cycle and pays for one LLM call per cycle', async () => {
      // One stub behind both managers counts every call either makes.
      const agents = stubAgents({
        audit: async (input) => {
          await clock.sleep(150);
          return input.cycle === 1 ? failedNaming(['a']) : passed();
        },
      });
      const managers = [
        cluster.startManager(one, { agents, ...fast }),
        cluster.startManager(two, { agents, ...fast }),
      ];
      try {
        const graphId = await submitGraph(one, { goal: 'twice audited', tasks: TASKS });
        await runCycle(one, graphId);
        await clock.runUntil(() => one.projector.graphState(graphId)?.cycle === 2, { message: 'cycle 2' });
        await caughtUp(one, two);
        await runCycle(two, graphId);
        await until(one, graphId, 'SYNTHESIZING');
        await until(two, graphId, 'SYNTHESIZING');
        // Both managers' sweeps have run over the finished audit, and whatever they started is done.
        await clock.advance(300);
        await Promise.all(managers.map((m) => m.idle()));
        await caughtUp(one, two);
        await caughtUp(two, one);
        expect(agents.auditCalls.map((call) => call.cycle)).toEqual([1, 2]);
        expect((await eventsOf(one, graphId, 'AuditFailed')).map((e) => e.data.cycle)).toEqual([1]);
        expect((await eventsOf(one, graphId, 'AuditPassed')).map((e) => e.data.cycle)).toEqual([2]);
        expect((await eventsOf(one, graphId, 'GraphCompleted')).map((e) => e.data.cycle)).toEqual([1, 2]);
        expect((await eventsOf(one, graphId, 'AuditStarted')).map((e) => e.data.cycle)).toEqual([1, 2]);
      } finally {
        await Promise.all(managers.map((m) => m.stop()));
      }
    });

    it('keeps a slow audit to one call by renewing its marker past the lease', async () => {
      const agents = stubAgents({
        audit: async () => {
          await clock.sleep(MARKER_MS * 2.5);
          return passed();
        },
      });
      const managers = [
        cluster.startManager(one, { agents, ...fast }),
        cluster.startManager(two, { agents, ...fast }),
      ];
      try {
        const graphId = await submitGraph(one, { goal: 'slow audit', tasks: TASKS });
        await runCycle(one, graphId);
        await until(two, graphId, 'SYNTHESIZING');
        expect(agents.auditCalls).toHaveLength(1);
        const markers = await eventsOf(one, graphId, 'AuditStarted');
        expect(markers.length).toBeGreaterThan(2);
        expect(new Set(markers.map((m) => m.data.attempt))).toEqual(new Set([1]));
        expect(await eventsOf(one, graphId, 'AuditPassed')).toHaveLength(1);
      } finally {
        await Promise.all(managers.map((m) => m.stop()));
      }
    });
  });

  describe('when the manager running an audit stops mid-call', () => {
    it('lets the other manager take over once the marker lapses, with exactly one outcome', async () => {
      const hanging = stubAgents({ audit: (_input, signal) => hangUntilAborted(signal) });
      const healthy = stubAgents({ audit: async () => passed('taken over') });
      const first = cluster.startManager(one, { agents: hanging, ...fast });
      const graphId = await submitGraph(one, { goal: 'orphaned audit', tasks: TASKS });
      await runCycle(one, graphId);
      await waitUntil(() => hanging.auditCalls.length === 1, { message: 'first audit call' });
      const second = cluster.startManager(two, { agents: healthy, ...fast });
      try {
        // The marker is held: the second manager waits instead of paying for a second call.
        await clock.advance(MARKER_MS / 2);
        await second.idle();
        expect(healthy.auditCalls).toHaveLength(0);
        const stoppedAt = clock.now();
        await first.stop();
        await until(two, graphId, 'SYNTHESIZING');
        const done = two.projector.graphState(graphId)!;
        // Taken over once the marker lapsed: within one marker lease (and a sweep) of the stop.
        expect(clock.now() - stoppedAt).toBeLessThan(MARKER_MS + 500);
        expect(healthy.auditCalls).toHaveLength(1);
        expect(hanging.auditCalls).toHaveLength(1);
        const markers = await eventsOf(two, graphId, 'AuditStarted');
        expect(markers.at(-1)?.data.attempt).toBe(2);
        const [outcome, ...others] = [
          ...(await eventsOf(two, graphId, 'AuditPassed')),
          ...(await eventsOf(two, graphId, 'AuditFailed')),
        ];
        expect(others).toHaveLength(0);
        expect(outcome).toMatchObject({ type: 'AuditPassed', data: { report: { summary: 'taken over' } } });
        expect(done.audits).toHaveLength(1);
      } finally {
        await second.stop();
      }
    });
  });
});
