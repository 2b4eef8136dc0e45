import { describe, expect, it } from 'vitest';
import { decideClaimTask } from '../../../src/commands/claim-task.ts';
import { decideRetryGraph, type RetryGraph } from '../../../src/commands/retry-graph.ts';
import { decideSubmitResult } from '../../../src/commands/submit-result.ts';
import { ADMIN, expectAppend, expectCode, GRAPH_ID, given, meta, WORKER } from './given.ts';

const retryGraph: RetryGraph = {
  type: 'RetryGraph',
  data: { graphId: GRAPH_ID },
  metadata: meta(undefined, ADMIN),
};

/** A graph whose task A used its only attempt and failed; the graph failed with task_failed. */
function failedOnA() {
  const g = given().submit(undefined, { maxAttempts: 1 });
  g.taskFailed('A', g.claim('A'));
  g.failGraph('task_failed');
  return g;
}

describe('RetryGraph', () => {
  describe('when the graph failed because a task failed', () => {
    it('gives the failed tasks a new attempt budget', () => {
      const g = failedOnA();
      const decision = decideRetryGraph(retryGraph, g.state);
      expect(decision).toEqual({
        kind: 'append',
        to: { kind: 'graph', graphId: GRAPH_ID },
        expectedSeq: g.state.lastSeq,
        msgId: `retry:${GRAPH_ID}:${g.state.lastSeq}`,
        event: { type: 'GraphRetried', graphId: GRAPH_ID, data: { tasks: ['A'] } },
      });
    });

    it('lets the failed task be claimed and completed again', () => {
      const g = failedOnA();
      g.accept(decideRetryGraph(retryGraph, g.state), meta(undefined, ADMIN));
      expect(g.state.status).toBe('RUNNING');
      expect(g.task('A').status).toBe('READY');
      const claim = {
        type: 'ClaimTask',
        data: { graphId: GRAPH_ID, taskId: 'A', agentId: WORKER, requestId: 'again' },
        metadata: meta(),
      } as const;
      const claimDecision = expectAppend(decideClaimTask(claim, g.state));
      expect(claimDecision.event).toMatchObject({ data: { attempt: 1 } });
      const token = String(g.accept(claimDecision, meta()));
      g.accept(
        decideSubmitResult(
          {
            type: 'SubmitResult',
            data: {
              graphId: GRAPH_ID,
              taskId: 'A',
              agentId: WORKER,
              claimToken: token,
              status: 'completed',
              result: { output: 'ok', history: [] },
            },
            metadata: meta(),
          },
          g.state,
        ),
        meta(),
      );
      expect(g.task('A').status).toBe('COMPLETED');
      expect(g.task('B').status).toBe('READY');
    });

    it('rejects with AM_ERR_TASK_NOT_FAILED when no task is FAILED', () => {
      const g = given().submit();
      g.failGraph('task_failed');
      expectCode(decideRetryGraph(retryGraph, g.state), 'AM_ERR_TASK_NOT_FAILED');
    });
  });

  describe('when the graph failed for another reason', () => {
    it('rejects with AM_ERR_GRAPH_STATE', () => {
      const g = given().submit().throughFirstCycle();
      g.auditFailed([]);
      g.failGraph('audit_not_passed');
      expectCode(decideRetryGraph(retryGraph, g.state), 'AM_ERR_GRAPH_STATE');
    });
  });

  describe('when the graph has not failed', () => {
    it('rejects a running graph with AM_ERR_GRAPH_STATE', () => {
      const g = given().submit();
      expectCode(decideRetryGraph(retryGraph, g.state), 'AM_ERR_GRAPH_STATE');
    });

    it('rejects a cancelled graph with AM_ERR_GRAPH_STATE', () => {
      const g = given().submit();
      g.cancel();
      expectCode(decideRetryGraph(retryGraph, g.state), 'AM_ERR_GRAPH_STATE');
    });
  });

  describe('when the graph is unknown', () => {
    it('rejects with AM_ERR_GRAPH_NOT_FOUND', () => {
      expectCode(decideRetryGraph(retryGraph, null), 'AM_ERR_GRAPH_NOT_FOUND');
    });
  });
});
