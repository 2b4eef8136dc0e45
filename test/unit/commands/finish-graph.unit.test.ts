import { describe, expect, it } from 'vitest';
import { decideFailGraph, type FailGraph } from '../../../src/commands/fail-graph.ts';
import { decideSucceedGraph, type SucceedGraph } from '../../../src/commands/succeed-graph.ts';
import { SYNTHESIS_TASK_ID } from '../../../src/protocol/index.ts';
import { expectCode, expectNoop, GRAPH_ID, given, MANAGER, meta, T0 } from './given.ts';

const succeedGraph: SucceedGraph = {
  type: 'SucceedGraph',
  data: { graphId: GRAPH_ID, output: 'the final answer' },
  metadata: meta(T0, MANAGER),
};

function failGraph(reason: FailGraph['data']['reason'] = 'task_failed', tasks?: string[]): FailGraph {
  return {
    type: 'FailGraph',
    data: { graphId: GRAPH_ID, reason, message: 'it failed', ...(tasks === undefined ? {} : { tasks }) },
    metadata: meta(T0, MANAGER),
  };
}

describe('SucceedGraph', () => {
  describe('when the synthesis task completed', () => {
    it('appends GraphSucceeded with the output', () => {
      const g = given().submit().throughAudit().completeAll(SYNTHESIS_TASK_ID);
      const decision = decideSucceedGraph(succeedGraph, g.state);
      expect(decision).toEqual({
        kind: 'append',
        to: { kind: 'graph', graphId: GRAPH_ID },
        expectedSeq: g.state.lastSeq,
        msgId: `succeed:${GRAPH_ID}`,
        event: { type: 'GraphSucceeded', graphId: GRAPH_ID, data: { output: 'the final answer' } },
      });
      g.accept(decision, meta(T0, MANAGER));
      expect(g.state.status).toBe('SUCCEEDED');
      expect(g.state.output).toBe('the final answer');
    });
  });

  describe('when the graph already succeeded', () => {
    it('is a no-op', () => {
      const g = given().submit().throughAudit().completeAll(SYNTHESIS_TASK_ID);
      const seq = g.add({ type: 'GraphSucceeded', data: { output: 'x' } });
      expectNoop(decideSucceedGraph(succeedGraph, g.state), seq);
    });
  });

  describe('when the synthesis task has not completed', () => {
    it('rejects a synthesis in progress with AM_ERR_GRAPH_STATE', () => {
      const g = given().submit().throughAudit();
      g.claim(SYNTHESIS_TASK_ID);
      expectCode(decideSucceedGraph(succeedGraph, g.state), 'AM_ERR_GRAPH_STATE');
    });

    it('rejects a graph whose work is done but not audited with AM_ERR_GRAPH_STATE', () => {
      const g = given().submit().throughFirstCycle();
      expectCode(decideSucceedGraph(succeedGraph, g.state), 'AM_ERR_GRAPH_STATE');
    });
  });

  describe('when the graph ended otherwise', () => {
    it('rejects a cancelled graph with AM_ERR_GRAPH_CANCELLED', () => {
      const g = given().submit().throughAudit();
      g.cancel();
      expectCode(decideSucceedGraph(succeedGraph, g.state), 'AM_ERR_GRAPH_CANCELLED');
    });

    it('rejects a failed graph with AM_ERR_GRAPH_FINISHED', () => {
      const g = given().submit();
      g.failGraph();
      expectCode(decideSucceedGraph(succeedGraph, g.state), 'AM_ERR_GRAPH_FINISHED');
    });

    it('rejects an unknown graph with AM_ERR_GRAPH_NOT_FOUND', () => {
      expectCode(decideSucceedGraph(succeedGraph, null), 'AM_ERR_GRAPH_NOT_FOUND');
    });
  });
});

describe('FailGraph', () => {
  describe('when the graph is going on', () => {
    it('fails it with the reason, naming the tasks', () => {
      const g = given().submit(undefined, { maxAttempts: 1 });
      g.taskFailed('A', g.claim('A'));
      const decision = decideFailGraph(failGraph('task_failed', ['A']), g.state);
      expect(decision).toEqual({
        kind: 'append',
        to: { kind: 'graph', graphId: GRAPH_ID },
        expectedSeq: g.state.lastSeq,
        msgId: `fail:${GRAPH_ID}:task_failed:1:${g.state.lastSeq}`,
        event: {
          type: 'GraphFailed',
          graphId: GRAPH_ID,
          data: { reason: 'task_failed', message: 'it failed', tasks: ['A'] },
        },
      });
      g.accept(decision, meta(T0, MANAGER));
      expect(g.state.status).toBe('FAILED');
      expect(g.state.failure).toEqual({ reason: 'task_failed', message: 'it failed' });
    });

    it('fails a graph whose last audit left no rework with audit_not_passed', () => {
      const g = given().submit(undefined, { maxReworkCycles: 0 }).throughFirstCycle();
      g.auditFailed([]);
      const decision = decideFailGraph(failGraph('audit_not_passed'), g.state);
      expect(decision).toMatchObject({ kind: 'append', event: { data: { reason: 'audit_not_passed' } } });
    });

    it('uses a new msgId when a retried graph fails again in the same cycle', () => {
      const g = given().submit(undefined, { maxAttempts: 1 });
      g.taskFailed('A', g.claim('A'));
      const first = decideFailGraph(failGraph(), g.state);
      g.accept(first, meta(T0, MANAGER));
      g.add({ type: 'GraphRetried', data: { tasks: ['A'] } });
      g.taskFailed('A', g.claim('A'));
      const second = decideFailGraph(failGraph(), g.state);
      expect(second).toMatchObject({ kind: 'append' });
      expect((second as { msgId: string }).msgId).not.toBe((first as { msgId: string }).msgId);
    });
  });

  describe('when the graph already failed', () => {
    it('is a no-op', () => {
      const g = given().submit();
      const seq = g.failGraph();
      expectNoop(decideFailGraph(failGraph('rework_invalid'), g.state), seq);
    });
  });

  describe('when the graph ended otherwise', () => {
    it('rejects a succeeded graph with AM_ERR_GRAPH_FINISHED', () => {
      const g = given().submit().throughAudit().completeAll(SYNTHESIS_TASK_ID);
      g.add({ type: 'GraphSucceeded', data: { output: 'x' } });
      expectCode(decideFailGraph(failGraph(), g.state), 'AM_ERR_GRAPH_FINISHED');
    });

    it('rejects a cancelled graph with AM_ERR_GRAPH_CANCELLED', () => {
      const g = given().submit();
      g.cancel();
      expectCode(decideFailGraph(failGraph(), g.state), 'AM_ERR_GRAPH_CANCELLED');
    });

    it('rejects an unknown graph with AM_ERR_GRAPH_NOT_FOUND', () => {
      expectCode(decideFailGraph(failGraph(), null), 'AM_ERR_GRAPH_NOT_FOUND');
    });
  });
});
