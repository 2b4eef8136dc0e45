import { describe, expect, it } from 'vitest';
import { SYNTHESIS_TASK_ID } from '../../../src/protocol/index.ts';
import { given, OTHER_WORKER, T0 } from '../commands/given.ts';

describe('evolveGraph', () => {
  describe('readiness', () => {
    it('makes only the roots READY when an explicit graph is submitted', () => {
      const g = given().submit();
      expect(g.state.status).toBe('RUNNING');
      expect(g.state.cycle).toBe(1);
      expect(g.task('A').status).toBe('READY');
      expect(g.task('A').availableAt).toBe(T0);
      for (const id of ['B', 'C', 'D', SYNTHESIS_TASK_ID]) expect(g.task(id).status).toBe('PENDING');
    });

    it('keeps a planner-made graph SUBMITTED with no tasks until it is planned', () => {
      const g = given().submit(null);
      expect(g.state.status).toBe('SUBMITTED');
      expect(g.state.explicit).toBe(false);
      expect(g.state.tasks.size).toBe(0);
    });

    it('makes the diamond’s join READY only after both of its dependencies complete', () => {
      const g = given().submit().completeAll('A');
      expect(g.task('B').status).toBe('READY');
      expect(g.task('C').status).toBe('READY');
      expect(g.task('D').status).toBe('PENDING');
      g.completeAll('B');
      expect(g.task('D').status).toBe('PENDING');
      const seq = g.complete('C', g.claim('C'));
      expect(g.task('D').status).toBe('READY');
      expect(g.task('D').readySeq).toBe(seq);
    });

    it('never makes the synthesis task READY from its edges', () => {
      const g = given().submit().completeAll('A', 'B', 'C', 'D');
      expect(g.task(SYNTHESIS_TASK_ID).status).toBe('PENDING');
    });
  });

  describe('the void-claim rule', () => {
    it('lets only the first of two claims on one READY task hold', () => {
      const g = given().submit();
      const first = g.claim('A');
      const second = g.claim('A', OTHER_WORKER);
      expect(g.lastApplied?.anomaly).toBe('void_claim');
      expect(g.task('A').claim?.token).toBe(first);
      expect(g.task('A').claim?.agentId).not.toBe(OTHER_WORKER);
      expect(g.task('A').lastSeq).toBe(Number(second));
    });

    it('voids a result presenting the void claim’s token and accepts the holder’s', () => {
      const g = given().submit();
      const first = g.claim('A');
      const second = g.claim('A', OTHER_WORKER);
      g.complete('A', second);
      expect(g.lastApplied?.anomaly).toBe('stale_claim');
      expect(g.task('A').status).toBe('CLAIMED');
      g.complete('A', first);
      expect(g.lastApplied?.anomaly).toBeNull();
      expect(g.task('A').status).toBe('COMPLETED');
      expect(g.task('A').lastResult).toMatchObject({ token: first });
    });

    it('voids a claim stored after its agent was revoked: the task stays READY', () => {
      const g = given().submit();
      g.revoke(OTHER_WORKER);
      const claimed = g.claim('A', OTHER_WORKER);
      expect(g.lastApplied?.anomaly).toBe('revoked_agent');
      expect(g.task('A').status).toBe('READY');
      expect(g.task('A').claim).toBeNull();
      // The subject moved on, so the next claim's expected sequence is the void claim's.
      expect(g.task('A').lastSeq).toBe(Number(claimed));
      g.complete('A', claimed);
      expect(g.lastApplied?.anomaly).toBe('stale_claim');
      const next = g.claim('A');
      expect(g.lastApplied?.anomaly).toBeNull();
      expect(g.task('A').claim?.token).toBe(next);
    });

    it('keeps a claim stored before its agent was revoked (the manager releases it)', () => {
      const g = given().submit();
      const claimed = g.claim('A', OTHER_WORKER);
      g.revoke(OTHER_WORKER);
      expect(g.task('A').status).toBe('CLAIMED');
      expect(g.task('A').claim?.token).toBe(claimed);
    });

    it('voids a claim while the graph is auditing', () => {
      const g = given().submit().throughFirstCycle();
      g.claim(SYNTHESIS_TASK_ID);
      expect(g.lastApplied?.anomaly).toBe('void_claim');
    });
  });

  describe('results', () => {
    it('remembers the holder of the last result', () => {
      const g = given().submit();
      const token = g.claim('A');
      const seq = g.complete('A', token);
      expect(g.task('A').lastResult).toEqual({ token, seq, agentId: 'worker-1' });
    });

    it('makes a task READY again from retryAt after a failed attempt and counts the attempt', () => {
      const g = given().submit();
      g.attemptFailed('A', g.claim('A'), T0 + 5_000);
      expect(g.task('A').status).toBe('READY');
      expect(g.task('A').attempts).toBe(1);
      expect(g.task('A').availableAt).toBe(T0 + 5_000);
      expect(g.task('A').claim).toBeNull();
    });
  });

  describe('rework', () => {
    it('resets exactly the rework set to PENDING and makes the reworked roots READY', () => {
      const g = given().submit().throughFirstCycle();
      g.auditFailed(['B', 'D']);
      expect(g.state.status).toBe('RUNNING');
      expect(g.state.cycle).toBe(2);
      expect(g.task('A').status).toBe('COMPLETED');
      expect(g.task('C').status).toBe('COMPLETED');
      expect(g.task('B').status).toBe('READY');
      expect(g.task('B').cycle).toBe(2);
      expect(g.task('D').status).toBe('PENDING');
      expect(g.task(SYNTHESIS_TASK_ID).status).toBe('PENDING');
    });

    it('keeps the graph AUDITING when the failed audit leaves no rework', () => {
      const g = given().submit().throughFirstCycle();
      g.auditFailed([]);
      expect(g.state.status).toBe('AUDITING');
      expect(g.state.cycle).toBe(1);
      expect(g.state.audits).toHaveLength(1);
    });
  });

  describe('synthesis', () => {
    it('makes the synthesis task READY when the cycle’s audit passes', () => {
      const g = given().submit().throughAudit();
      expect(g.state.status).toBe('SYNTHESIZING');
      expect(g.task(SYNTHESIS_TASK_ID).status).toBe('READY');
      expect(g.task(SYNTHESIS_TASK_ID).cycle).toBe(1);
    });

    it('makes the synthesis task READY in the cycle of the audit that passed after a rework', () => {
      const g = given().submit().throughFirstCycle();
      g.auditFailed(['D']);
      g.completeAll('D');
      g.graphCompleted(2);
      g.auditPassed(2);
      expect(g.task(SYNTHESIS_TASK_ID).status).toBe('READY');
      expect(g.task(SYNTHESIS_TASK_ID).cycle).toBe(2);
    });
  });

  describe('cancel and failure', () => {
    it('cancels unfinished tasks and voids their claims, keeping completed ones', () => {
      const g = given().submit().completeAll('A');
      const token = g.claim('B');
      g.cancel();
      expect(g.state.status).toBe('CANCELLED');
      expect(g.task('A').status).toBe('COMPLETED');
      expect(g.task('B').status).toBe('CANCELLED');
      expect(g.task('B').claim).toBeNull();
      g.complete('B', token);
      expect(g.lastApplied?.anomaly).toBe('stale_claim');
      expect(g.task('B').status).toBe('CANCELLED');
    });

    it("remembers a holder's own failure as its result (a repeat is the same submission), not the manager's", () => {
      const g = given().submit();
      const token = g.claim('A');
      g.taskFailed('A', token, 'holder');
      expect(g.task('A').lastResult).toMatchObject({ token });
      const h = given().submit();
      h.taskFailed('A', h.claim('A'), 'manager');
      expect(h.task('A').lastResult).toBeNull();
      expect(h.task('A').status).toBe('FAILED');
    });

    it('stops outstanding work when the graph fails', () => {
      const g = given().submit().completeAll('A');
      g.claim('B');
      g.taskFailed('C', g.claim('C'));
      g.failGraph('task_failed');
      expect(g.task('B').status).toBe('PENDING');
      expect(g.task('B').claim).toBeNull();
      expect(g.task('C').status).toBe('FAILED');
    });

    it('gives the failed tasks a new attempt budget and re-derives readiness on GraphRetried', () => {
      const g = given().submit().completeAll('A');
      g.claim('B');
      g.taskFailed('C', g.claim('C'));
      g.failGraph('task_failed');
      g.add({ type: 'GraphRetried', data: { tasks: ['C'] } });
      expect(g.state.status).toBe('RUNNING');
      expect(g.state.failure).toBeNull();
      expect(g.task('C').status).toBe('READY');
      expect(g.task('C').attempts).toBe(0);
      expect(g.task('B').status).toBe('READY');
    });

    it('resumes synthesis when a graph that failed in its synthesis is retried', () => {
      const g = given().submit().throughAudit();
      g.taskFailed(SYNTHESIS_TASK_ID, g.claim(SYNTHESIS_TASK_ID));
      g.failGraph('task_failed');
      g.add({ type: 'GraphRetried', data: { tasks: [SYNTHESIS_TASK_ID] } });
      expect(g.state.status).toBe('SYNTHESIZING');
      expect(g.task(SYNTHESIS_TASK_ID).status).toBe('READY');
      expect(g.task(SYNTHESIS_TASK_ID).attempts).toBe(0);
    });
  });
});
