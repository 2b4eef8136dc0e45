import { describe, expect, it } from 'vitest';
import { decideRetryGraph } from '../../../src/commands/retry-graph.ts';
import { decideStartAudit, type StartAudit } from '../../../src/commands/start-audit.ts';
import { decideStartPlanning, type StartPlanning } from '../../../src/commands/start-planning.ts';
import { ADMIN, expectAppend, expectCode, GRAPH_ID, given, MANAGER, meta, T0 } from '../commands/given.ts';

type Held = StartPlanning['data']['held'];

function startPlanning(now: number, held?: Held, maxAttempts = 3): StartPlanning {
  return {
    type: 'StartPlanning',
    data: { graphId: GRAPH_ID, markerMs: 30_000, maxAttempts, ...(held ? { held } : {}) },
    metadata: meta(now, MANAGER),
  };
}

function startAudit(now: number, held?: Held, maxAttempts = 3): StartAudit {
  return {
    type: 'StartAudit',
    data: { graphId: GRAPH_ID, cycle: 1, markerMs: 30_000, maxAttempts, ...(held ? { held } : {}) },
    metadata: meta(now, MANAGER),
  };
}

/** A goal graph whose planning marker `attempt` is held until T0 + 30 s. */
function planningHeld(attempt: number) {
  const g = given().submit(null);
  g.add({ type: 'PlanningStarted', data: { attempt, leaseUntil: T0 + 30_000 } });
  return g;
}

describe('StartPlanning by the manager that holds the marker', () => {
  describe('when it renews the marker while its LLM call runs', () => {
    it('appends the same attempt with a new lease, even before the old one ends', () => {
      const g = planningHeld(1);
      const decision = expectAppend(
        decideStartPlanning(startPlanning(T0 + 10_000, { attempt: 1, renew: true }), g.state),
      );
      expect(decision.event).toMatchObject({ data: { attempt: 1, leaseUntil: T0 + 40_000 } });
    });
  });

  describe('when its call failed and it moves on', () => {
    it('takes the next attempt at once, without waiting for its own lease to end', () => {
      const g = planningHeld(1);
      const decision = expectAppend(
        decideStartPlanning(startPlanning(T0 + 1_000, { attempt: 1, renew: false }), g.state),
      );
      expect(decision.event).toMatchObject({ data: { attempt: 2 } });
    });

    it('refuses with marker_attempts_exhausted after the last attempt', () => {
      const g = planningHeld(3);
      const error = expectCode(
        decideStartPlanning(startPlanning(T0 + 1_000, { attempt: 3, renew: false }), g.state),
        'AM_ERR_GRAPH_STATE',
      );
      expect(error.details?.refusal).toBe('marker_attempts_exhausted');
    });
  });

  describe('when another manager took the marker over', () => {
    it('refuses both renewal and next attempt with marker_lost', () => {
      const g = planningHeld(2);
      for (const renew of [true, false]) {
        const error = expectCode(
          decideStartPlanning(startPlanning(T0 + 1_000, { attempt: 1, renew }), g.state),
          'AM_ERR_GRAPH_STATE',
        );
        expect(error.details?.refusal).toBe('marker_lost');
      }
    });
  });

  describe('when the graph was planned meanwhile', () => {
    it('refuses with AM_ERR_GRAPH_STATE', () => {
      const g = planningHeld(1);
      g.add({
        type: 'GraphPlanned',
        data: { tasks: [{ id: 'A', title: 'A', instructions: 'a' }], planner: 'offline' },
      });
      expectCode(
        decideStartPlanning(startPlanning(T0 + 1_000, { attempt: 1, renew: true }), g.state),
        'AM_ERR_GRAPH_STATE',
      );
    });
  });
});

describe('StartAudit by the manager that holds the marker', () => {
  it('renews the same attempt, moves on to the next, and loses it to a takeover', () => {
    const g = given().submit().throughFirstCycle();
    g.add({ type: 'AuditStarted', data: { cycle: 1, attempt: 1, leaseUntil: T0 + 30_000 } });
    const renewed = expectAppend(
      decideStartAudit(startAudit(T0 + 5_000, { attempt: 1, renew: true }), g.state),
    );
    expect(renewed.event).toMatchObject({ data: { cycle: 1, attempt: 1, leaseUntil: T0 + 35_000 } });
    const next = expectAppend(
      decideStartAudit(startAudit(T0 + 5_000, { attempt: 1, renew: false }), g.state),
    );
    expect(next.event).toMatchObject({ data: { cycle: 1, attempt: 2 } });
    g.add({ type: 'AuditStarted', data: { cycle: 1, attempt: 2, leaseUntil: T0 + 60_000 } });
    const lost = expectCode(
      decideStartAudit(startAudit(T0 + 5_000, { attempt: 1, renew: true }), g.state),
      'AM_ERR_GRAPH_STATE',
    );
    expect(lost.details?.refusal).toBe('marker_lost');
  });
});

describe('RetryGraph after the synthesis failed', () => {
  it('gives the synthesis task a new budget and the graph goes back to synthesizing', () => {
    const g = given().submit(undefined, { maxAttempts: 1 }).throughAudit();
    g.taskFailed('_synthesis', g.claim('_synthesis'));
    g.add({ type: 'GraphFailed', data: { reason: 'synthesis_failed', message: 'failed' } });
    g.accept(
      decideRetryGraph(
        { type: 'RetryGraph', data: { graphId: GRAPH_ID }, metadata: meta(T0, ADMIN) },
        g.state,
      ),
      meta(T0, ADMIN),
    );
    expect(g.state.status).toBe('SYNTHESIZING');
    expect(g.task('_synthesis').status).toBe('READY');
  });
});
