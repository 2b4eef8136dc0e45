import { describe, expect, it } from 'vitest';
import { type ClaimTask, decideClaimTask } from '../../../src/commands/claim-task.ts';
import { SYNTHESIS_TASK_ID, type TaskSpec } from '../../../src/protocol/index.ts';
import {
  expectAppend,
  expectCode,
  expectNoop,
  GRAPH_ID,
  given,
  meta,
  OTHER_WORKER,
  T0,
  WORKER,
} from './given.ts';

function claimTask(taskId: string, data: Partial<ClaimTask['data']> = {}, now = T0): ClaimTask {
  return {
    type: 'ClaimTask',
    data: { graphId: GRAPH_ID, taskId, agentId: WORKER, requestId: 'req-1', ...data },
    metadata: meta(now, data.agentId ?? WORKER),
  };
}

describe('ClaimTask', () => {
  describe('when the task is READY', () => {
    it('claims it with the next attempt, the current cycle and a lease from now', () => {
      const g = given().submit(undefined, { leaseMs: 30_000 });
      const decision = expectAppend(decideClaimTask(claimTask('A', {}, T0 + 10), g.state));
      expect(decision).toEqual({
        kind: 'append',
        to: { kind: 'task', graphId: GRAPH_ID, taskId: 'A' },
        expectedSeq: 0,
        msgId: `claim:${WORKER}:req-1`,
        event: {
          type: 'TaskClaimed',
          graphId: GRAPH_ID,
          taskId: 'A',
          data: { agentId: WORKER, requestId: 'req-1', attempt: 1, cycle: 1, leaseUntil: T0 + 10 + 30_000 },
        },
      });
    });

    it('expects the task subject’s last sequence and counts earlier attempts', () => {
      const g = given().submit();
      const token = g.claim('A');
      const seq = g.attemptFailed('A', token, T0);
      const decision = expectAppend(decideClaimTask(claimTask('A', { requestId: 'req-2' }), g.state));
      expect(decision.expectedSeq).toBe(seq);
      expect(decision.event).toMatchObject({ data: { attempt: 2 } });
    });

    it('is accepted in evolve and yields a claim whose token is its sequence', () => {
      const g = given().submit();
      const m = meta();
      const seq = g.accept(decideClaimTask(claimTask('A'), g.state), m);
      expect(g.task('A').status).toBe('CLAIMED');
      expect(g.task('A').claim).toMatchObject({ token: String(seq), agentId: WORKER, requestId: 'req-1' });
    });
  });

  describe('when the same request is retried', () => {
    it('answers with the claim it already made', () => {
      const g = given().submit();
      const token = g.claim('A', WORKER, 'req-1');
      expectNoop(decideClaimTask(claimTask('A'), g.state), Number(token));
    });
  });

  describe('when the task was claimed by another worker', () => {
    it('rejects with AM_ERR_TASK_NOT_READY', () => {
      const g = given().submit();
      g.claim('A', OTHER_WORKER, 'req-1');
      expectCode(decideClaimTask(claimTask('A'), g.state), 'AM_ERR_TASK_NOT_READY');
    });
  });

  describe('when the same worker claims it again with another request', () => {
    it('rejects with AM_ERR_TASK_NOT_READY', () => {
      const g = given().submit();
      g.claim('A', WORKER, 'req-1');
      expectCode(decideClaimTask(claimTask('A', { requestId: 'req-2' }), g.state), 'AM_ERR_TASK_NOT_READY');
    });
  });

  describe('when the task is PENDING', () => {
    it('rejects with AM_ERR_TASK_NOT_READY', () => {
      const g = given().submit();
      expectCode(decideClaimTask(claimTask('B'), g.state), 'AM_ERR_TASK_NOT_READY');
    });
  });

  describe('when the task is COMPLETED', () => {
    it('rejects with AM_ERR_TASK_NOT_READY', () => {
      const g = given().submit().completeAll('A');
      expectCode(decideClaimTask(claimTask('A', { requestId: 'req-9' }), g.state), 'AM_ERR_TASK_NOT_READY');
    });
  });

  describe('when the task is backing off after a failed attempt', () => {
    it('rejects with AM_ERR_TASK_NOT_READY until retryAt', () => {
      const g = given().submit();
      g.attemptFailed('A', g.claim('A'), T0 + 4_000);
      expectCode(decideClaimTask(claimTask('A', {}, T0 + 3_999), g.state), 'AM_ERR_TASK_NOT_READY');
      expectAppend(decideClaimTask(claimTask('A', {}, T0 + 4_000), g.state));
    });
  });

  describe('when the task needs a capability', () => {
    const tasks: TaskSpec[] = [{ id: 'gpu', title: 'g', instructions: '', capability: 'gpu' }];

    it('rejects a worker without it with AM_ERR_TASK_NOT_READY', () => {
      const g = given().submit(tasks);
      expectCode(decideClaimTask(claimTask('gpu'), g.state), 'AM_ERR_TASK_NOT_READY');
      expectCode(
        decideClaimTask(claimTask('gpu', { capabilities: ['cpu'] }), g.state),
        'AM_ERR_TASK_NOT_READY',
      );
    });

    it('claims it for a worker that lists it', () => {
      const g = given().submit(tasks);
      expectAppend(decideClaimTask(claimTask('gpu', { capabilities: ['cpu', 'gpu'] }), g.state));
    });
  });

  describe('when the graph is not dispatching', () => {
    it('rejects the synthesis task while the graph is auditing with AM_ERR_TASK_NOT_READY', () => {
      const g = given().submit().throughFirstCycle();
      expectCode(decideClaimTask(claimTask(SYNTHESIS_TASK_ID), g.state), 'AM_ERR_TASK_NOT_READY');
    });

    it('claims the synthesis task once the audit passed', () => {
      const g = given().submit().throughAudit();
      const decision = expectAppend(decideClaimTask(claimTask(SYNTHESIS_TASK_ID), g.state));
      expect(decision.event).toMatchObject({ type: 'TaskClaimed', taskId: SYNTHESIS_TASK_ID });
    });

    it("offers the synthesis task only to workers with the graph's synthesisCapability", () => {
      const g = given().submit(undefined, { synthesisCapability: 'writer' }).throughAudit();
      expectCode(decideClaimTask(claimTask(SYNTHESIS_TASK_ID), g.state), 'AM_ERR_TASK_NOT_READY');
      expectAppend(decideClaimTask(claimTask(SYNTHESIS_TASK_ID, { capabilities: ['writer'] }), g.state));
    });
  });

  describe('when the graph is unknown', () => {
    it('rejects with AM_ERR_GRAPH_NOT_FOUND', () => {
      expectCode(decideClaimTask(claimTask('A'), null), 'AM_ERR_GRAPH_NOT_FOUND');
    });
  });

  describe('when the task is unknown', () => {
    it('rejects with AM_ERR_TASK_NOT_FOUND', () => {
      const g = given().submit();
      expectCode(decideClaimTask(claimTask('Z'), g.state), 'AM_ERR_TASK_NOT_FOUND');
    });
  });

  describe('when the graph was cancelled', () => {
    it('rejects with AM_ERR_GRAPH_CANCELLED', () => {
      const g = given().submit();
      g.cancel();
      expectCode(decideClaimTask(claimTask('A'), g.state), 'AM_ERR_GRAPH_CANCELLED');
    });
  });

  describe('when the graph has finished', () => {
    it('rejects a failed graph with AM_ERR_GRAPH_FINISHED', () => {
      const g = given().submit();
      g.failGraph('task_failed');
      expectCode(decideClaimTask(claimTask('A'), g.state), 'AM_ERR_GRAPH_FINISHED');
    });

    it('rejects a succeeded graph with AM_ERR_GRAPH_FINISHED', () => {
      const g = given().submit().throughAudit().completeAll(SYNTHESIS_TASK_ID);
      g.add({ type: 'GraphSucceeded', data: { output: 'final' } });
      expectCode(decideClaimTask(claimTask('A'), g.state), 'AM_ERR_GRAPH_FINISHED');
    });
  });
});
