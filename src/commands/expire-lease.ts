import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { ClaimState, GraphState } from '../events/index.ts';
import { ClaimTokenSchema } from '../events/index.ts';
import { AnyTaskIdSchema, GraphIdSchema } from '../protocol/index.ts';
import { commandSchema } from './command.ts';
import type { Decision } from './decision.ts';
import { refuseCancelled, requireGraph, requireTask, taskRef } from './guards.ts';
import { retryDelayMs } from './retry-delay.ts';

export const ExpireLeaseSchema = commandSchema(
  'ExpireLease',
  z.object({
    graphId: GraphIdSchema,
    taskId: AnyTaskIdSchema,
    claimToken: ClaimTokenSchema,
    /** `lease_expired`: no heartbeat within the lease; `timeout`: the attempt ran past options.timeoutMs. */
    reason: z.enum(['lease_expired', 'timeout']),
  }),
);
export type ExpireLease = z.infer<typeof ExpireLeaseSchema>;

/**
 * The lease reaper takes a claim back: the attempt counts as used and the task is READY again after a
 * backoff, or FAILED when that was its last attempt.
 *
 * A claim that is not yet expired at `now` is refused with AM_ERR_CONFLICT: the reaper decided on a
 * read model that a heartbeat has since overtaken, which is exactly a concurrent change that won.
 */
export function decideExpireLease(command: ExpireLease, state: GraphState | null): Decision | AppError {
  const { graphId, taskId, claimToken, reason } = command.data;
  const { now } = command.metadata;
  const graph = requireGraph(state, graphId);
  if (graph instanceof AppError) return graph;
  const task = requireTask(graph, taskId);
  if (task instanceof AppError) return task;
  const cancelled = refuseCancelled(graph);
  if (cancelled) return cancelled;
  const claim = task.claim;
  if (task.status !== 'CLAIMED' || claim === null || claim.token !== claimToken) {
    return new AppError(
      'AM_ERR_STALE_CLAIM',
      `claim ${claimToken} is not the current claim of task ${taskId}`,
      {
        details: { taskId, claimToken },
      },
    );
  }
  const alive = whyNotExpired(claim, reason, now, graph.options.timeoutMs);
  if (alive !== null) {
    return new AppError('AM_ERR_CONFLICT', `claim ${claimToken} of task ${taskId} ${alive}`, {
      details: {
        taskId,
        claimToken,
        refusal: reason === 'timeout' ? 'not_timed_out' : 'lease_not_expired',
        leaseUntil: claim.leaseUntil,
      },
    });
  }
  const to = taskRef(graphId, taskId);
  const msgId = `expire:${graphId}:${taskId}:${claimToken}`;
  const attempt = task.attempts + 1;
  if (attempt >= graph.options.maxAttempts) {
    const message =
      reason === 'timeout' ? 'the last attempt ran past its timeout' : 'the last attempt lost its lease';
    return {
      kind: 'append',
      to,
      expectedSeq: task.lastSeq,
      msgId,
      event: {
        type: 'TaskFailed',
        graphId,
        taskId,
        data: {
          claimToken,
          reason: 'attempts_exhausted',
          decidedBy: 'manager',
          error: { message, retryable: true, code: reason },
          history: [],
        },
      },
    };
  }
  return {
    kind: 'append',
    to,
    expectedSeq: task.lastSeq,
    msgId,
    event: {
      type: 'TaskLeaseExpired',
      graphId,
      taskId,
      data: { claimToken, reason, retryAt: now + retryDelayMs(attempt, claimToken) },
    },
  };
}

/** Why the claim still stands at `now` for `reason`, or null when it may be taken back. */
function whyNotExpired(
  claim: ClaimState,
  reason: ExpireLease['data']['reason'],
  now: number,
  timeoutMs: number | undefined,
): string | null {
  switch (reason) {
    case 'lease_expired':
      return claim.leaseUntil <= now ? null : `holds its lease until ${claim.leaseUntil}`;
    case 'timeout':
      if (timeoutMs === undefined) return 'cannot time out: the graph sets no timeoutMs';
      return claim.claimedAt + timeoutMs <= now
        ? null
        : `runs within its timeout until ${claim.claimedAt + timeoutMs}`;
    default: {
      const unreachable: never = reason;
      return unreachable;
    }
  }
}
