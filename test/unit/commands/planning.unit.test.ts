import { describe, expect, it } from 'vitest';
import { decideFailPlanning, type FailPlanning } from '../../../src/commands/fail-planning.ts';
import { decideRecordPlan, type RecordPlan } from '../../../src/commands/record-plan.ts';
import { decideStartPlanning, type StartPlanning } from '../../../src/commands/start-planning.ts';
import type { TaskSpec } from '../../../src/protocol/index.ts';
import { DIAMOND, expectAppend, expectCode, GRAPH_ID, given, MANAGER, meta, T0 } from './given.ts';

function startPlanning(now = T0, maxAttempts = 3): StartPlanning {
  return {
    type: 'StartPlanning',
    data: { graphId: GRAPH_ID, markerMs: 30_000, maxAttempts },
    metadata: meta(now, MANAGER),
  };
}

function recordPlan(tasks: TaskSpec[] = DIAMOND): RecordPlan {
  return {
    type: 'RecordPlan',
    data: { graphId: GRAPH_ID, tasks, planner: 'offline' },
    metadata: meta(T0, MANAGER),
  };
}

const failPlanning: FailPlanning = {
  type: 'FailPlanning',
  data: { graphId: GRAPH_ID, code: 'AM_ERR_LLM_INVALID_OUTPUT', message: 'no plan' },
  metadata: meta(T0, MANAGER),
};

function planning(leaseUntil: number, attempt = 1) {
  const g = given().submit(null);
  for (let i = 1; i <= attempt; i++) g.add({ type: 'PlanningStarted', data: { attempt: i, leaseUntil } });
  return g;
}

describe('StartPlanning', () => {
  describe('when the graph was submitted without tasks', () => {
    it('appends the first marker with a lease, under a per-request msgId', () => {
      const g = given().submit(null);
      const decision = expectAppend(decideStartPlanning(startPlanning(), g.state));
      expect(decision).toMatchObject({
        to: { kind: 'graph', graphId: GRAPH_ID },
        expectedSeq: 1,
        event: { type: 'PlanningStarted', graphId: GRAPH_ID, data: { attempt: 1, leaseUntil: T0 + 30_000 } },
      });
      expect(decision.msgId).toMatch(new RegExp(`^plan:${GRAPH_ID}:1:.+`));
      const again = expectAppend(decideStartPlanning(startPlanning(), g.state));
      expect(again.msgId).not.toBe(decision.msgId);
      g.accept(decision, meta(T0, MANAGER));
      expect(g.state.status).toBe('PLANNING');
    });
  });

  describe('when another manager holds the marker', () => {
    it('rejects with AM_ERR_GRAPH_STATE', () => {
      const g = planning(T0 + 30_000);
      const error = expectCode(
        decideStartPlanning(startPlanning(T0 + 29_999), g.state),
        'AM_ERR_GRAPH_STATE',
      );
      expect(error.details).toMatchObject({ refusal: 'marker_held' });
    });
  });

  describe('when the marker’s lease has run out', () => {
    it('takes it over with the next attempt', () => {
      const g = planning(T0 + 30_000);
      const decision = expectAppend(decideStartPlanning(startPlanning(T0 + 30_000), g.state));
      expect(decision.event).toMatchObject({ data: { attempt: 2, leaseUntil: T0 + 60_000 } });
    });

    it('rejects beyond maxAttempts with AM_ERR_GRAPH_STATE', () => {
      const g = planning(T0, 3);
      const error = expectCode(decideStartPlanning(startPlanning(T0 + 1, 3), g.state), 'AM_ERR_GRAPH_STATE');
      expect(error.details).toMatchObject({ refusal: 'marker_attempts_exhausted' });
    });
  });

  describe('when the graph needs no planning', () => {
    it('rejects an explicit graph with AM_ERR_GRAPH_STATE', () => {
      const g = given().submit();
      expectCode(decideStartPlanning(startPlanning(), g.state), 'AM_ERR_GRAPH_STATE');
    });

    it('rejects a planned graph with AM_ERR_GRAPH_STATE', () => {
      const g = planning(T0);
      g.add({ type: 'GraphPlanned', data: { tasks: DIAMOND, planner: 'offline' } });
      expectCode(decideStartPlanning(startPlanning(), g.state), 'AM_ERR_GRAPH_STATE');
    });

    it('rejects a cancelled graph with AM_ERR_GRAPH_CANCELLED', () => {
      const g = given().submit(null);
      g.cancel();
      expectCode(decideStartPlanning(startPlanning(), g.state), 'AM_ERR_GRAPH_CANCELLED');
    });

    it('rejects an unknown graph with AM_ERR_GRAPH_NOT_FOUND', () => {
      expectCode(decideStartPlanning(startPlanning(), null), 'AM_ERR_GRAPH_NOT_FOUND');
    });
  });
});

describe('RecordPlan', () => {
  describe('when the graph is planning', () => {
    it('records the plan: the graph runs with its roots READY', () => {
      const g = planning(T0 + 30_000);
      const decision = decideRecordPlan(recordPlan(), g.state);
      expect(decision).toEqual({
        kind: 'append',
        to: { kind: 'graph', graphId: GRAPH_ID },
        expectedSeq: 2,
        msgId: `planned:${GRAPH_ID}`,
        event: { type: 'GraphPlanned', graphId: GRAPH_ID, data: { tasks: DIAMOND, planner: 'offline' } },
      });
      g.accept(decision, meta(T0, MANAGER));
      expect(g.state.status).toBe('RUNNING');
      expect(g.task('A').status).toBe('READY');
      expect(g.task('_synthesis').kind).toBe('synthesis');
    });

    it('rejects a cyclic plan with AM_ERR_GRAPH_CYCLIC', () => {
      const g = planning(T0 + 30_000);
      const tasks: TaskSpec[] = [
        { id: 'A', title: 'a', instructions: '', dependsOn: ['C'] },
        { id: 'B', title: 'b', instructions: '', dependsOn: ['A'] },
        { id: 'C', title: 'c', instructions: '', dependsOn: ['B'] },
      ];
      expectCode(decideRecordPlan(recordPlan(tasks), g.state), 'AM_ERR_GRAPH_CYCLIC');
    });

    it('rejects a plan with an unknown dependency with AM_ERR_GRAPH_INVALID', () => {
      const g = planning(T0 + 30_000);
      const tasks: TaskSpec[] = [{ id: 'A', title: 'a', instructions: '', dependsOn: ['nope'] }];
      expectCode(decideRecordPlan(recordPlan(tasks), g.state), 'AM_ERR_GRAPH_INVALID');
    });

    it('rejects an empty plan with AM_ERR_GRAPH_INVALID', () => {
      const g = planning(T0 + 30_000);
      expectCode(decideRecordPlan(recordPlan([]), g.state), 'AM_ERR_GRAPH_INVALID');
    });
  });

  describe('when the graph is already planned', () => {
    it('rejects with AM_ERR_GRAPH_STATE', () => {
      const g = given().submit();
      expectCode(decideRecordPlan(recordPlan(), g.state), 'AM_ERR_GRAPH_STATE');
    });
  });

  describe('when the graph was cancelled', () => {
    it('rejects with AM_ERR_GRAPH_CANCELLED', () => {
      const g = planning(T0 + 30_000);
      g.cancel();
      expectCode(decideRecordPlan(recordPlan(), g.state), 'AM_ERR_GRAPH_CANCELLED');
    });
  });
});

describe('FailPlanning', () => {
  describe('when the graph is planning', () => {
    it('fails the graph with planning_failed', () => {
      const g = planning(T0 + 30_000);
      const decision = decideFailPlanning(failPlanning, g.state);
      expect(decision).toEqual({
        kind: 'append',
        to: { kind: 'graph', graphId: GRAPH_ID },
        expectedSeq: 2,
        msgId: `planning-failed:${GRAPH_ID}`,
        event: {
          type: 'GraphPlanningFailed',
          graphId: GRAPH_ID,
          data: { code: 'AM_ERR_LLM_INVALID_OUTPUT', message: 'no plan' },
        },
      });
      g.accept(decision, meta(T0, MANAGER));
      expect(g.state.status).toBe('FAILED');
      expect(g.state.failure?.reason).toBe('planning_failed');
    });
  });

  describe('when the graph is running', () => {
    it('rejects with AM_ERR_GRAPH_STATE', () => {
      const g = given().submit();
      expectCode(decideFailPlanning(failPlanning, g.state), 'AM_ERR_GRAPH_STATE');
    });
  });

  describe('when the graph already failed', () => {
    it('rejects with AM_ERR_GRAPH_FINISHED', () => {
      const g = planning(T0);
      g.add({ type: 'GraphPlanningFailed', data: { code: 'x', message: 'y' } });
      expectCode(decideFailPlanning(failPlanning, g.state), 'AM_ERR_GRAPH_FINISHED');
    });
  });
});
