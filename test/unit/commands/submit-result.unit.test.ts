import { describe, expect, it } from 'vitest';
import { retryDelayMs } from '../../../src/commands/retry-delay.ts';
import { decideSubmitResult, type SubmitResult } from '../../../src/commands/submit-result.ts';
import { SYNTHESIS_TASK_ID } from '../../../src/protocol/index.ts';
import {
  expectAppend,
  expectCode,
  expectNoop,
  GRAPH_ID,
  given,
  meta,
  OTHER_WORKER,
  result,
  T0,
  WORKER,
} from './given.ts';

function submit(
  taskId: string,
  claimToken: string,
  data: Partial<SubmitResult['data']> = { status: 'completed', result: result() },
  agentId = WORKER,
  now = T0,
): SubmitResult {
  return {
    type: 'SubmitResult',
    data: { graphId: GRAPH_ID, taskId, agentId, claimToken, status: 'completed', ...data },
    metadata: meta(now, agentId),
  };
}

function failure(retryable: boolean): Partial<SubmitResult['data']> {
  return { status: 'failed', error: { message: 'model timeout', retryable }, history: [] };
}

describe('SubmitResult', () => {
  describe('when the holder completes the task', () => {
    it('appends TaskCompleted with the result', () => {
      const g = given().submit();
      const token = g.claim('A');
      const output = result('the answer');
      const decision = decideSubmitResult(submit('A', token, { result: output }), g.state);
      expect(decision).toEqual({
        kind: 'append',
        to: { kind: 'task', graphId: GRAPH_ID, taskId: 'A' },
        expectedSeq: Number(token),
        msgId: `result:${WORKER}:${token}`,
        event: {
          type: 'TaskCompleted',
          graphId: GRAPH_ID,
          taskId: 'A',
          data: { claimToken: token, result: output },
        },
      });
      g.accept(decision, meta());
      expect(g.task('A').status).toBe('COMPLETED');
      expect(g.task('B').status).toBe('READY');
    });

    it('rejects a completion without an output with AM_ERR_VALIDATION', () => {
      const g = given().submit();
      const token = g.claim('A');
      expectCode(decideSubmitResult(submit('A', token, { result: undefined }), g.state), 'AM_ERR_VALIDATION');
    });
  });

  describe('when the same submission is repeated', () => {
    it('answers with the sequence of the first one', () => {
      const g = given().submit();
      const token = g.claim('A');
      const seq = g.accept(decideSubmitResult(submit('A', token), g.state), meta());
      expectNoop(decideSubmitResult(submit('A', token), g.state), seq);
    });

    it('answers a repeated failure with the sequence of the first one, even once the task is READY again', () => {
      const g = given().submit();
      const token = g.claim('A');
      const seq = g.accept(decideSubmitResult(submit('A', token, failure(true)), g.state), meta());
      expect(g.task('A').status).toBe('READY');
      expectNoop(decideSubmitResult(submit('A', token, failure(true)), g.state), seq);
    });

    it('rejects another agent presenting that token with AM_ERR_STALE_CLAIM', () => {
      const g = given().submit();
      const token = g.claim('A');
      g.accept(decideSubmitResult(submit('A', token), g.state), meta());
      expectCode(
        decideSubmitResult(submit('A', token, undefined, OTHER_WORKER), g.state),
        'AM_ERR_STALE_CLAIM',
      );
    });

    it('answers the repeat even after the graph was cancelled', () => {
      const g = given().submit();
      const token = g.claim('A');
      const seq = g.accept(decideSubmitResult(submit('A', token), g.state), meta());
      g.cancel();
      expectNoop(decideSubmitResult(submit('A', token), g.state), seq);
    });
  });

  describe('when a void claim’s holder submits', () => {
    it('rejects with AM_ERR_STALE_CLAIM and the holder’s result is still accepted', () => {
      const g = given().submit();
      const first = g.claim('A');
      const second = g.claim('A', OTHER_WORKER);
      expectCode(
        decideSubmitResult(submit('A', second, undefined, OTHER_WORKER), g.state),
        'AM_ERR_STALE_CLAIM',
      );
      expectAppend(decideSubmitResult(submit('A', first), g.state));
    });
  });

  describe('when the attempt failed and is retryable with attempts left', () => {
    it('appends TaskAttemptFailed with a backoff derived from the attempt and token', () => {
      const g = given().submit(undefined, { maxAttempts: 3 });
      const token = g.claim('A');
      const decision = decideSubmitResult(submit('A', token, failure(true), WORKER, T0 + 50), g.state);
      expect(decision).toEqual({
        kind: 'append',
        to: { kind: 'task', graphId: GRAPH_ID, taskId: 'A' },
        expectedSeq: Number(token),
        msgId: `result:${WORKER}:${token}`,
        event: {
          type: 'TaskAttemptFailed',
          graphId: GRAPH_ID,
          taskId: 'A',
          data: {
            claimToken: token,
            error: { message: 'model timeout', retryable: true },
            history: [],
            retryAt: T0 + 50 + retryDelayMs(1, token),
          },
        },
      });
      g.accept(decision, meta(T0 + 50));
      expect(g.task('A').status).toBe('READY');
      expect(g.task('A').attempts).toBe(1);
    });

    it('treats a failure reported without an error as retryable', () => {
      const g = given().submit();
      const token = g.claim('A');
      const decision = expectAppend(decideSubmitResult(submit('A', token, { status: 'failed' }), g.state));
      expect(decision.event.type).toBe('TaskAttemptFailed');
    });
  });

  describe('when attempts run out', () => {
    it('appends TaskFailed with attempts_exhausted on the last attempt', () => {
      const g = given().submit(undefined, { maxAttempts: 2 });
      g.attemptFailed('A', g.claim('A'), T0);
      const token = g.claim('A');
      const decision = expectAppend(decideSubmitResult(submit('A', token, failure(true)), g.state));
      expect(decision.event).toEqual({
        type: 'TaskFailed',
        graphId: GRAPH_ID,
        taskId: 'A',
        data: {
          claimToken: token,
          reason: 'attempts_exhausted',
          decidedBy: 'holder',
          error: { message: 'model timeout', retryable: true },
          history: [],
        },
      });
      g.accept(decision, meta());
      expect(g.task('A').status).toBe('FAILED');
      expect(g.task('A').attempts).toBe(2);
    });

    it('appends TaskFailed at once with maxAttempts 1', () => {
      const g = given().submit(undefined, { maxAttempts: 1 });
      const token = g.claim('A');
      const decision = expectAppend(decideSubmitResult(submit('A', token, failure(true)), g.state));
      expect(decision.event).toMatchObject({ type: 'TaskFailed', data: { reason: 'attempts_exhausted' } });
    });
  });

  describe('when the failure is not retryable', () => {
    it('appends TaskFailed with not_retryable on the first attempt', () => {
      const g = given().submit();
      const token = g.claim('A');
      const decision = expectAppend(decideSubmitResult(submit('A', token, failure(false)), g.state));
      expect(decision.event).toMatchObject({ type: 'TaskFailed', data: { reason: 'not_retryable' } });
    });
  });

  describe('when the synthesis task completes', () => {
    it('appends TaskCompleted like any task', () => {
      const g = given().submit().throughAudit();
      const token = g.claim(SYNTHESIS_TASK_ID);
      g.accept(decideSubmitResult(submit(SYNTHESIS_TASK_ID, token), g.state), meta());
      expect(g.task(SYNTHESIS_TASK_ID).status).toBe('COMPLETED');
    });
  });
});
