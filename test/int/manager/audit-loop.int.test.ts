import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../../src/errors.ts';
import type { AuditInput } from '../../../src/manager/index.ts';
import type { AppContext } from '../../../src/node/app-context.ts';
import type { AuditReport } from '../../../src/protocol/index.ts';
import { waitUntil } from '../../kit/index.ts';
import {
  eventsOf,
  failedNaming,
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

/** a → b → c, and d on its own: reworking b must redo c, and neither a nor d. */
const TASKS = [
  { id: 'a', title: 'A', instructions: 'first' },
  { id: 'b', title: 'B', instructions: 'second', dependsOn: ['a'] },
  { id: 'c', title: 'C', instructions: 'third', dependsOn: ['b'] },
  { id: 'd', title: 'D', instructions: 'aside' },
];

describe('Audit loop', () => {
  let cluster: ManagerCluster;
  let ctx: AppContext;

  beforeAll(async () => {
    cluster = await startManagerCluster('audit');
    ctx = await cluster.addNode();
  });

  afterAll(async () => {
    await cluster?.cleanup();
  });

  function managerWith(audit: (input: AuditInput) => Promise<AuditReport>, maxMarkerAttempts = 3) {
    const agents = stubAgents({ audit });
    const manager = cluster.startManager(ctx, {
      agents,
      intervalMs: 100,
      graceMs: 0,
      markerMs: 1_000,
      llmRetryBaseMs: 50,
      maxMarkerAttempts,
    });
    return { agents, manager };
  }

  describe('when the first audit fails naming one task', () => {
    it('reworks that task and its dependents only, audits again, then synthesizes and succeeds', async () => {
      const { agents, manager } = managerWith(async (input) =>
        input.cycle === 1 ? failedNaming(['b'], 'b is thin') : passed('better'),
      );
      try {
        const graphId = await submitGraph(ctx, { goal: 'a chain', tasks: TASKS });
        expect(await runCycle(ctx, graphId)).toEqual(['a', 'd', 'b', 'c']);
        await waitUntilCycle(graphId, 2);
        const [failed] = await eventsOf(ctx, graphId, 'AuditFailed');
        expect(failed?.data).toMatchObject({ cycle: 1, rework: ['b', 'c'] });
        expect(failed?.data.report.summary).toBe('b is thin');
        const state = graph(ctx, graphId);
        expect(state.tasks.get('a')).toMatchObject({ status: 'COMPLETED', cycle: 1 });
        expect(state.tasks.get('d')).toMatchObject({ status: 'COMPLETED', cycle: 1 });
        expect(state.tasks.get('b')).toMatchObject({ status: 'READY', cycle: 2 });
        expect(state.tasks.get('c')).toMatchObject({ status: 'PENDING', cycle: 2 });

        expect(await runCycle(ctx, graphId, (id) => `better ${id}`)).toEqual(['b', 'c']);
        const synthesizing = await waitForStatus(ctx, graphId, 'SYNTHESIZING');
        expect(synthesizing.tasks.get('_synthesis')?.status).toBe('READY');
        const completed = await eventsOf(ctx, graphId, 'GraphCompleted');
        expect(completed.map((e) => e.data.cycle)).toEqual([1, 2]);
        const [auditPassed] = await eventsOf(ctx, graphId, 'AuditPassed');
        expect(auditPassed?.data.cycle).toBe(2);
        // The second audit saw the reworked outputs and kept the untouched ones.
        const second = agents.auditCalls[1];
        expect(second?.cycle).toBe(2);
        expect(second?.tasks.map((t) => [t.id, t.output])).toEqual([
          ['a', 'output of a'],
          ['b', 'better b'],
          ['c', 'better c'],
          ['d', 'output of d'],
        ]);
        expect(second?.tasks.find((t) => t.id === 'c')?.dependsOn).toEqual(['b']);

        await runTask(ctx, graphId, '_synthesis', 'the whole answer');
        const done = await waitForStatus(ctx, graphId, 'SUCCEEDED');
        expect(done.output).toBe('the whole answer');
        expect(agents.auditCalls).toHaveLength(2);
      } finally {
        await manager.stop();
      }
    });
  });

  describe('when no audit ever passes', () => {
    it('fails the graph with audit_not_passed after maxReworkCycles+1 audits, keeping every report', async () => {
      const { agents, manager } = managerWith(async (input) => failedNaming(['d'], `try ${input.cycle}`));
      try {
        const graphId = await submitGraph(ctx, {
          goal: 'never good enough',
          tasks: TASKS,
          options: { maxReworkCycles: 1 },
        });
        await runCycle(ctx, graphId);
        await waitUntilCycle(graphId, 2);
        expect(await runCycle(ctx, graphId)).toEqual(['d']);
        const failed = await waitForStatus(ctx, graphId, 'FAILED');
        expect(failed.failure?.reason).toBe('audit_not_passed');
        const audits = ctx.readModel.audits.auditsOf(graphId);
        expect(audits.map((a) => [a.cycle, a.passed, a.rework, a.report.summary])).toEqual([
          [1, false, ['d'], 'try 1'],
          [2, false, [], 'try 2'],
        ]);
        expect(await eventsOf(ctx, graphId, 'GraphFailed')).toHaveLength(1);
        expect(agents.auditCalls).toHaveLength(2);
      } finally {
        await manager.stop();
      }
    });
  });

  describe('when a failed audit names no valid task', () => {
    it('fails the graph with rework_invalid instead of looping', async () => {
      const { agents, manager } = managerWith(async () => failedNaming(['no-such-task']));
      try {
        const graphId = await submitGraph(ctx, { goal: 'confused auditor', tasks: TASKS });
        await runCycle(ctx, graphId);
        const failed = await waitForStatus(ctx, graphId, 'FAILED');
        expect(failed.failure?.reason).toBe('rework_invalid');
        expect(failed.failure?.message).toContain('no-such-task');
        expect(await eventsOf(ctx, graphId, 'AuditFailed')).toHaveLength(0);
        expect(agents.auditCalls).toHaveLength(1);
      } finally {
        await manager.stop();
      }
    });

    it('treats a failed report without suggestions the same way', async () => {
      const { manager } = managerWith(async () => failedNaming([]));
      try {
        const graphId = await submitGraph(ctx, { goal: 'vague auditor', tasks: TASKS });
        await runCycle(ctx, graphId);
        const failed = await waitForStatus(ctx, graphId, 'FAILED');
        expect(failed.failure?.reason).toBe('rework_invalid');
      } finally {
        await manager.stop();
      }
    });
  });

  describe('when the auditor keeps failing', () => {
    it('fails the graph with audit_failed and the error code after the capped attempts', async () => {
      const { agents, manager } = managerWith(async () => {
        throw new AppError('AM_ERR_LLM_INVALID_OUTPUT', 'not json');
      }, 2);
      try {
        const graphId = await submitGraph(ctx, { goal: 'broken auditor', tasks: TASKS });
        await runCycle(ctx, graphId);
        const failed = await waitForStatus(ctx, graphId, 'FAILED');
        expect(failed.failure?.reason).toBe('audit_failed');
        expect(failed.failure?.message).toContain('AM_ERR_LLM_INVALID_OUTPUT');
        const markers = await eventsOf(ctx, graphId, 'AuditStarted');
        expect(markers.map((m) => m.data.attempt)).toEqual([1, 2]);
        expect(agents.auditCalls).toHaveLength(2);
      } finally {
        await manager.stop();
      }
    });
  });

  async function waitUntilCycle(graphId: string, cycle: number): Promise<void> {
    await waitUntil(() => graph(ctx, graphId).cycle === cycle && graph(ctx, graphId).status === 'RUNNING', {
      message: `cycle ${cycle} running`,
    });
  }
});
