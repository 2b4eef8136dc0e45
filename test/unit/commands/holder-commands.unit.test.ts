import { describe, expect, it } from 'vitest';
import type { Decision } from '../../../src/commands/decision.ts';
import { decideExtendLease } from '../../../src/commands/extend-lease.ts';
import { decideReleaseTask } from '../../../src/commands/release-task.ts';
import { decideReportProgress } from '../../../src/commands/report-progress.ts';
import { decideSubmitResult } from '../../../src/commands/submit-result.ts';
import type { AppError } from '../../../src/errors.ts';
import type { GraphState } from '../../../src/events/index.ts';
import { expectCode, GRAPH_ID, given, meta, OTHER_WORKER, result, T0, WORKER } from './given.ts';

type Ref = { taskId: string; agentId: string; claimToken: string };
type Decide = (ref: Ref, state: GraphState | null) => Decision | AppError;

/** Every command a claim's holder sends, so the claim checks are tested once for all of them. */
const HOLDER_COMMANDS: [string, Decide][] = [
  [
    'ExtendLease',
    (ref, state) =>
      decideExtendLease(
        { type: 'ExtendLease', data: { graphId: GRAPH_ID, ...ref }, metadata: meta() },
        state,
      ),
  ],
  [
    'ReportProgress',
    (ref, state) =>
      decideReportProgress(
        {
          type: 'ReportProgress',
          data: {
            graphId: GRAPH_ID,
            ...ref,
            index: 0,
            step: { thought: 't', action: { type: 'tool', name: 'x', input: {} } },
          },
          metadata: meta(),
        },
        state,
      ),
  ],
  [
    'ReleaseTask',
    (ref, state) =>
      decideReleaseTask(
        { type: 'ReleaseTask', data: { graphId: GRAPH_ID, ...ref }, metadata: meta() },
        state,
      ),
  ],
  [
    'SubmitResult',
    (ref, state) =>
      decideSubmitResult(
        {
          type: 'SubmitResult',
          data: { graphId: GRAPH_ID, ...ref, status: 'completed', result: result() },
          metadata: meta(),
        },
        state,
      ),
  ],
];

describe.each(HOLDER_COMMANDS)('%s', (_name, decide) => {
  describe('when the token is not the current claim', () => {
    it('rejects a token that never was a claim with AM_ERR_STALE_CLAIM', () => {
      const g = given().submit();
      g.claim('A');
      expectCode(decide({ taskId: 'A', agentId: WORKER, claimToken: '999' }, g.state), 'AM_ERR_STALE_CLAIM');
    });

    it('rejects the token of a claim that was released and claimed again with AM_ERR_STALE_CLAIM', () => {
      const g = given().submit();
      const old = g.claim('A');
      g.add({ type: 'TaskReleased', taskId: 'A', data: { claimToken: old, reason: null } });
      g.claim('A');
      expectCode(decide({ taskId: 'A', agentId: WORKER, claimToken: old }, g.state), 'AM_ERR_STALE_CLAIM');
    });

    it('rejects the token of a void double claim with AM_ERR_STALE_CLAIM', () => {
      const g = given().submit();
      g.claim('A');
      const voided = g.claim('A', OTHER_WORKER);
      expectCode(
        decide({ taskId: 'A', agentId: OTHER_WORKER, claimToken: voided }, g.state),
        'AM_ERR_STALE_CLAIM',
      );
    });

    it('rejects a token once the graph failed with AM_ERR_STALE_CLAIM', () => {
      const g = given().submit();
      const token = g.claim('A');
      g.failGraph('task_failed');
      expectCode(decide({ taskId: 'A', agentId: WORKER, claimToken: token }, g.state), 'AM_ERR_STALE_CLAIM');
    });
  });

  describe('when another agent presents the current token', () => {
    it('rejects with AM_ERR_CLAIM_FOREIGN', () => {
      const g = given().submit();
      const token = g.claim('A');
      expectCode(
        decide({ taskId: 'A', agentId: OTHER_WORKER, claimToken: token }, g.state),
        'AM_ERR_CLAIM_FOREIGN',
      );
    });
  });

  describe('when the graph was cancelled', () => {
    it('rejects with AM_ERR_GRAPH_CANCELLED', () => {
      const g = given().submit();
      const token = g.claim('A');
      g.cancel();
      expectCode(
        decide({ taskId: 'A', agentId: WORKER, claimToken: token }, g.state),
        'AM_ERR_GRAPH_CANCELLED',
      );
    });
  });

  describe('when the graph or task is unknown', () => {
    it('rejects an unknown graph with AM_ERR_GRAPH_NOT_FOUND', () => {
      expectCode(decide({ taskId: 'A', agentId: WORKER, claimToken: '1' }, null), 'AM_ERR_GRAPH_NOT_FOUND');
    });

    it('rejects an unknown task with AM_ERR_TASK_NOT_FOUND', () => {
      const g = given().submit();
      expectCode(decide({ taskId: 'Z', agentId: WORKER, claimToken: '1' }, g.state), 'AM_ERR_TASK_NOT_FOUND');
    });
  });

  describe('when the holder presents its current claim', () => {
    it('is accepted', () => {
      const g = given().submit();
      const token = g.claim('A');
      const decision = decide({ taskId: 'A', agentId: WORKER, claimToken: token }, g.state);
      expect(decision).toMatchObject({ kind: 'append' });
    });
  });
});

describe('ExtendLease', () => {
  describe('when the holder heartbeats', () => {
    it('extends the lease by leaseMs from now with a per-heartbeat msgId', () => {
      const g = given().submit(undefined, { leaseMs: 20_000 });
      const token = g.claim('A');
      const decision = decideExtendLease(
        {
          type: 'ExtendLease',
          data: { graphId: GRAPH_ID, taskId: 'A', agentId: WORKER, claimToken: token },
          metadata: meta(T0 + 7_000),
        },
        g.state,
      );
      expect(decision).toEqual({
        kind: 'append',
        to: { kind: 'task', graphId: GRAPH_ID, taskId: 'A' },
        expectedSeq: Number(token),
        msgId: `lease:${WORKER}:${token}:${T0 + 7_000}`,
        event: {
          type: 'TaskLeaseExtended',
          graphId: GRAPH_ID,
          taskId: 'A',
          data: { claimToken: token, leaseUntil: T0 + 27_000 },
        },
      });
      g.accept(decision, meta(T0 + 7_000));
      expect(g.task('A').claim?.leaseUntil).toBe(T0 + 27_000);
    });
  });
});

describe('ReportProgress', () => {
  describe('when the holder reports a step', () => {
    it('appends to the progress subject without an expected sequence', () => {
      const g = given().submit();
      const token = g.claim('A');
      const step = { thought: 'look', action: { type: 'tool' as const, name: 'search', input: { q: 'x' } } };
      const decision = decideReportProgress(
        {
          type: 'ReportProgress',
          data: { graphId: GRAPH_ID, taskId: 'A', agentId: WORKER, claimToken: token, index: 3, step },
          metadata: meta(),
        },
        g.state,
      );
      expect(decision).toEqual({
        kind: 'append',
        to: { kind: 'progress', graphId: GRAPH_ID, taskId: 'A' },
        expectedSeq: null,
        msgId: `progress:${WORKER}:${token}:3`,
        event: {
          type: 'TaskProgressed',
          graphId: GRAPH_ID,
          taskId: 'A',
          data: { claimToken: token, index: 3, step },
        },
      });
      const before = g.task('A').lastSeq;
      g.accept(decision, meta());
      expect(g.task('A').lastSeq).toBe(before);
    });
  });
});

describe('ReleaseTask', () => {
  describe('when the holder gives the task back', () => {
    it('makes it READY at once without using an attempt', () => {
      const g = given().submit();
      const token = g.claim('A');
      const decision = decideReleaseTask(
        {
          type: 'ReleaseTask',
          data: { graphId: GRAPH_ID, taskId: 'A', agentId: WORKER, claimToken: token, reason: 'shutdown' },
          metadata: meta(T0 + 100),
        },
        g.state,
      );
      expect(decision).toEqual({
        kind: 'append',
        to: { kind: 'task', graphId: GRAPH_ID, taskId: 'A' },
        expectedSeq: Number(token),
        msgId: `release:${WORKER}:${token}`,
        event: {
          type: 'TaskReleased',
          graphId: GRAPH_ID,
          taskId: 'A',
          data: { claimToken: token, reason: 'shutdown' },
        },
      });
      g.accept(decision, meta(T0 + 100));
      expect(g.task('A').status).toBe('READY');
      expect(g.task('A').attempts).toBe(0);
      expect(g.task('A').availableAt).toBe(T0 + 100);
    });
  });
});
