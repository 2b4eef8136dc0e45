import { describe, expect, it } from 'vitest';
import { type CancelGraph, decideCancelGraph } from '../../../src/commands/cancel-graph.ts';
import { SYNTHESIS_TASK_ID } from '../../../src/protocol/index.ts';
import { ADMIN, expectCode, expectNoop, GRAPH_ID, given, meta } from './given.ts';

function cancelGraph(reason?: string): CancelGraph {
  return {
    type: 'CancelGraph',
    data: { graphId: GRAPH_ID, ...(reason === undefined ? {} : { reason }) },
    metadata: meta(undefined, ADMIN),
  };
}

describe('CancelGraph', () => {
  describe('when the graph is running', () => {
    it('cancels it and voids the claims in hand', () => {
      const g = given().submit().completeAll('A');
      g.claim('B');
      const decision = decideCancelGraph(cancelGraph('not needed'), g.state);
      expect(decision).toEqual({
        kind: 'append',
        to: { kind: 'graph', graphId: GRAPH_ID },
        expectedSeq: g.state.lastSeq,
        msgId: `cancel:${GRAPH_ID}`,
        event: { type: 'GraphCancelled', graphId: GRAPH_ID, data: { reason: 'not needed' } },
      });
      g.accept(decision, meta(undefined, ADMIN));
      expect(g.state.status).toBe('CANCELLED');
      expect(g.task('B').claim).toBeNull();
      expect(g.task('B').status).toBe('CANCELLED');
      expect(g.task('A').status).toBe('COMPLETED');
    });

    it('cancels a graph that is still waiting for its plan', () => {
      const g = given().submit(null);
      expect(decideCancelGraph(cancelGraph(), g.state)).toMatchObject({
        kind: 'append',
        event: { data: { reason: null } },
      });
    });
  });

  describe('when the graph was already cancelled', () => {
    it('is a no-op', () => {
      const g = given().submit();
      const seq = g.cancel();
      expectNoop(decideCancelGraph(cancelGraph(), g.state), seq);
    });
  });

  describe('when the graph has finished', () => {
    it('rejects a succeeded graph with AM_ERR_GRAPH_FINISHED', () => {
      const g = given().submit().throughAudit().completeAll(SYNTHESIS_TASK_ID);
      g.add({ type: 'GraphSucceeded', data: { output: 'x' } });
      expectCode(decideCancelGraph(cancelGraph(), g.state), 'AM_ERR_GRAPH_FINISHED');
    });

    it('rejects a failed graph with AM_ERR_GRAPH_FINISHED', () => {
      const g = given().submit();
      g.failGraph();
      expectCode(decideCancelGraph(cancelGraph(), g.state), 'AM_ERR_GRAPH_FINISHED');
    });
  });

  describe('when the graph is unknown', () => {
    it('rejects with AM_ERR_GRAPH_NOT_FOUND', () => {
      expectCode(decideCancelGraph(cancelGraph(), null), 'AM_ERR_GRAPH_NOT_FOUND');
    });
  });
});
