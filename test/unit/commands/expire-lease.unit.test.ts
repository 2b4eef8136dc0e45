import { describe, expect, it } from 'vitest';
import { decideExpireLease, type ExpireLease } from '../../../src/commands/expire-lease.ts';
import { retryDelayMs } from '../../../src/commands/retry-delay.ts';
import { decideSubmitResult } from '../../../src/commands/submit-result.ts';
import { expectAppend, expectCode, GRAPH_ID, given, MANAGER, meta, result, T0, WORKER } from './given.ts';

function expireLease(
  claimToken: string,
  now: number,
  reason: ExpireLease['data']['reason'] = 'lease_expired',
): ExpireLease {
  return {
    type: 'ExpireLease',
    data: { graphId: GRAPH_ID, taskId: 'A', claimToken, reason },
    metadata: meta(now, MANAGER),
  };
}

describe('ExpireLease', () => {
  describe('when the lease has run out', () => {
    it('takes the claim back and makes the task READY after a backoff', () => {
      const g = given().submit(undefined, { leaseMs: 10_000 });
      const token = g.claim('A');
      const now = T0 + 10_000;
      const decision = decideExpireLease(expireLease(token, now), g.state);
      expect(decision).toEqual({
        kind: 'append',
        to: { kind: 'task', graphId: GRAPH_ID, taskId: 'A' },
        expectedSeq: Number(token),
        msgId: `expire:${GRAPH_ID}:A:${token}`,
        event: {
          type: 'TaskLeaseExpired',
          graphId: GRAPH_ID,
          taskId: 'A',
          data: { claimToken: token, reason: 'lease_expired', retryAt: now + retryDelayMs(1, token) },
        },
      });
      g.accept(decision, meta(now, MANAGER));
      expect(g.task('A').status).toBe('READY');
      expect(g.task('A').attempts).toBe(1);
      expect(g.task('A').claim).toBeNull();
    });

    it('fails the task with attempts_exhausted when that was its last attempt', () => {
      const g = given().submit(undefined, { leaseMs: 10_000, maxAttempts: 2 });
      g.attemptFailed('A', g.claim('A'), T0);
      const token = g.claim('A');
      const decision = expectAppend(decideExpireLease(expireLease(token, T0 + 10_000), g.state));
      expect(decision.event).toEqual({
        type: 'TaskFailed',
        graphId: GRAPH_ID,
        taskId: 'A',
        data: {
          claimToken: token,
          reason: 'attempts_exhausted',
          decidedBy: 'manager',
          error: { message: 'the last attempt lost its lease', retryable: true, code: 'lease_expired' },
          history: [],
        },
      });
      g.accept(decision, meta(T0 + 10_000, MANAGER));
      expect(g.task('A').status).toBe('FAILED');
    });

    it('meets the holder’s late result after the last attempt expired with AM_ERR_STALE_CLAIM', () => {
      const g = given().submit(undefined, { leaseMs: 10_000, maxAttempts: 1 });
      const token = g.claim('A');
      g.accept(decideExpireLease(expireLease(token, T0 + 10_000), g.state), meta(T0 + 10_000, MANAGER));
      const late = decideSubmitResult(
        {
          type: 'SubmitResult',
          data: {
            graphId: GRAPH_ID,
            taskId: 'A',
            agentId: WORKER,
            claimToken: token,
            status: 'completed',
            result: result(),
          },
          metadata: meta(T0 + 11_000),
        },
        g.state,
      );
      expectCode(late, 'AM_ERR_STALE_CLAIM');
    });
  });

  describe('when the lease was extended by a heartbeat', () => {
    it('rejects with AM_ERR_CONFLICT', () => {
      const g = given().submit(undefined, { leaseMs: 10_000 });
      const token = g.claim('A');
      g.add({ type: 'TaskLeaseExtended', taskId: 'A', data: { claimToken: token, leaseUntil: T0 + 20_000 } });
      const error = expectCode(
        decideExpireLease(expireLease(token, T0 + 15_000), g.state),
        'AM_ERR_CONFLICT',
      );
      expect(error.details).toMatchObject({ refusal: 'lease_not_expired' });
    });
  });

  describe('when the attempt runs past timeoutMs', () => {
    it('takes the claim back even though it heartbeats', () => {
      const g = given().submit(undefined, { leaseMs: 10_000, timeoutMs: 30_000 });
      const token = g.claim('A');
      g.add({ type: 'TaskLeaseExtended', taskId: 'A', data: { claimToken: token, leaseUntil: T0 + 40_000 } });
      const decision = expectAppend(decideExpireLease(expireLease(token, T0 + 30_000, 'timeout'), g.state));
      expect(decision.event).toMatchObject({ type: 'TaskLeaseExpired', data: { reason: 'timeout' } });
    });

    it('rejects before the timeout with AM_ERR_CONFLICT', () => {
      const g = given().submit(undefined, { timeoutMs: 30_000 });
      const token = g.claim('A');
      expectCode(decideExpireLease(expireLease(token, T0 + 29_999, 'timeout'), g.state), 'AM_ERR_CONFLICT');
    });

    it('rejects a timeout on a graph without timeoutMs with AM_ERR_CONFLICT', () => {
      const g = given().submit();
      const token = g.claim('A');
      expectCode(
        decideExpireLease(expireLease(token, T0 + 86_400_000, 'timeout'), g.state),
        'AM_ERR_CONFLICT',
      );
    });
  });

  describe('when the claim is no longer current', () => {
    it('rejects a claim whose result was accepted with AM_ERR_STALE_CLAIM', () => {
      const g = given().submit(undefined, { leaseMs: 10_000 });
      const token = g.claim('A');
      g.complete('A', token);
      expectCode(decideExpireLease(expireLease(token, T0 + 60_000), g.state), 'AM_ERR_STALE_CLAIM');
    });

    it('rejects a claim on a cancelled graph with AM_ERR_GRAPH_CANCELLED', () => {
      const g = given().submit(undefined, { leaseMs: 10_000 });
      const token = g.claim('A');
      g.cancel();
      expectCode(decideExpireLease(expireLease(token, T0 + 60_000), g.state), 'AM_ERR_GRAPH_CANCELLED');
    });
  });
});
