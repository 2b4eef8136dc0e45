import { describe, expect, it } from 'vitest';
import {
  type CompleteCycle,
  decideCompleteCycle,
  isCycleComplete,
} from '../../../src/commands/complete-cycle.ts';
import { expectCode, GRAPH_ID, given, MANAGER, meta } from './given.ts';

function completeCycle(cycle: number): CompleteCycle {
  return { type: 'CompleteCycle', data: { graphId: GRAPH_ID, cycle }, metadata: meta(undefined, MANAGER) };
}

describe('CompleteCycle', () => {
  describe('when every work task of the cycle is COMPLETED', () => {
    it('records the cycle as completed with a shared msgId', () => {
      const g = given().submit().completeAll('A', 'B', 'C', 'D');
      expect(isCycleComplete(g.state)).toBe(true);
      const decision = decideCompleteCycle(completeCycle(1), g.state);
      expect(decision).toEqual({
        kind: 'append',
        to: { kind: 'graph', graphId: GRAPH_ID },
        expectedSeq: g.state.lastSeq,
        msgId: `complete:${GRAPH_ID}:1`,
        event: { type: 'GraphCompleted', graphId: GRAPH_ID, data: { cycle: 1 } },
      });
      g.accept(decision, meta(undefined, MANAGER));
      expect(g.state.status).toBe('AUDITING');
      expect(g.state.completedCycle).toBe(1);
    });

    it('does not wait for the synthesis task', () => {
      const g = given().submit().completeAll('A', 'B', 'C', 'D');
      expect(g.task('_synthesis').status).toBe('PENDING');
      expect(decideCompleteCycle(completeCycle(1), g.state)).toMatchObject({ kind: 'append' });
    });

    it('completes a rework cycle once the reworked tasks are done again', () => {
      const g = given().submit().throughFirstCycle();
      g.auditFailed(['C', 'D']);
      expect(isCycleComplete(g.state)).toBe(false);
      g.completeAll('C');
      expect(g.task('D').status).toBe('READY');
      g.completeAll('D');
      expect(decideCompleteCycle(completeCycle(2), g.state)).toMatchObject({
        kind: 'append',
        msgId: `complete:${GRAPH_ID}:2`,
      });
    });
  });

  describe('when a work task is not COMPLETED', () => {
    it('rejects with AM_ERR_GRAPH_STATE', () => {
      const g = given().submit().completeAll('A', 'B', 'C');
      g.claim('D');
      expect(isCycleComplete(g.state)).toBe(false);
      expectCode(decideCompleteCycle(completeCycle(1), g.state), 'AM_ERR_GRAPH_STATE');
    });
  });

  describe('when the cycle is not the current one', () => {
    it('rejects an older cycle with AM_ERR_GRAPH_STATE', () => {
      const g = given().submit().throughFirstCycle();
      g.auditFailed(['D']);
      g.completeAll('D');
      expectCode(decideCompleteCycle(completeCycle(1), g.state), 'AM_ERR_GRAPH_STATE');
    });
  });

  describe('when the cycle was already completed', () => {
    it('rejects with AM_ERR_GRAPH_STATE', () => {
      const g = given().submit().throughFirstCycle();
      expect(isCycleComplete(g.state)).toBe(false);
      expectCode(decideCompleteCycle(completeCycle(1), g.state), 'AM_ERR_GRAPH_STATE');
    });
  });

  describe('when the graph is not running', () => {
    it('rejects a cancelled graph with AM_ERR_GRAPH_STATE', () => {
      const g = given().submit().completeAll('A', 'B', 'C', 'D');
      g.cancel();
      expectCode(decideCompleteCycle(completeCycle(1), g.state), 'AM_ERR_GRAPH_STATE');
    });

    it('rejects an unplanned graph with AM_ERR_GRAPH_STATE', () => {
      const g = given().submit(null);
      expect(isCycleComplete(g.state)).toBe(false);
      expectCode(decideCompleteCycle(completeCycle(1), g.state), 'AM_ERR_GRAPH_STATE');
    });

    it('rejects an unknown graph with AM_ERR_GRAPH_NOT_FOUND', () => {
      expectCode(decideCompleteCycle(completeCycle(1), null), 'AM_ERR_GRAPH_NOT_FOUND');
    });
  });
});
