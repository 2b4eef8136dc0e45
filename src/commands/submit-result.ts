import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { GraphState } from '../events/index.ts';
import { LIMITS, ResultSchema, StepSchema, type TaskError, TaskErrorSchema } from '../protocol/index.ts';
import { commandSchema } from './command.ts';
import type { Decision } from './decision.ts';
import { requireGraph, requireHeldTask, requireTask, taskRef } from './guards.ts';
import { holderFields } from './holder.ts';
import { retryDelayMs } from './retry-delay.ts';

export const SubmitResultSchema = commandSchema(
  'SubmitResult',
  z.object({
    ...holderFields,
    status: z.enum(['completed', 'failed']),
    /** Required when completed: the output and the whole ReAct history. */
    result: ResultSchema.optional(),
    /** The history of a failed attempt. */
    history: z.array(StepSchema).max(LIMITS.maxStepsPerResult).optional(),
    /** Why the attempt failed; `retryable: false` fails the task at once. */
    error: TaskErrorSchema.optional(),
  }),
);
export type SubmitResult = z.infer<typeof SubmitResultSchema>;

/** A failure reported without an error is treated as transient: the worker gave us nothing to judge by. */
const UNEXPLAINED_FAILURE: TaskError = {
  message: 'the worker reported a failure without an error',
  retryable: true,
};

/**
 * The holder's outcome: completed → TaskCompleted; a retryable failure with attempts left →
 * TaskAttemptFailed (READY again after a backoff); otherwise TaskFailed. The same submission repeated
 * answers with the sequence of the first one.
 */
export function decideSubmitResult(command: SubmitResult, state: GraphState | null): Decision | AppError {
  const { graphId, taskId, agentId, claimToken } = command.data;
  const { now } = command.metadata;
  const graph = requireGraph(state, graphId);
  if (graph instanceof AppError) return graph;
  const known = requireTask(graph, taskId);
  if (known instanceof AppError) return known;
  const last = known.lastResult;
  // The agent is known only while the state remembers it (see TaskState.lastResult); a token names one
  // claim of one agent, so without it the token alone identifies the submission.
  if (
    last !== null &&
    last.token === claimToken &&
    (last.agentId === undefined || last.agentId === agentId)
  ) {
    return { kind: 'noop', seq: last.seq };
  }
  const held = requireHeldTask(graph, command.data);
  if (held instanceof AppError) return held;
  const { task } = held;
  const to = taskRef(graphId, taskId);
  const msgId = `result:${agentId}:${claimToken}`;
  if (command.data.status === 'completed') {
    const result = command.data.result;
    if (result === undefined) {
      return new AppError('AM_ERR_VALIDATION', 'a completed result needs an output', {
        details: { field: 'result' },
      });
    }
    return {
      kind: 'append',
      to,
      expectedSeq: task.lastSeq,
      msgId,
      event: { type: 'TaskCompleted', graphId, taskId, data: { claimToken, result } },
    };
  }
  const error = command.data.error ?? UNEXPLAINED_FAILURE;
  const history = command.data.history ?? [];
  const attempt = task.attempts + 1;
  if (error.retryable && attempt < graph.options.maxAttempts) {
    return {
      kind: 'append',
      to,
      expectedSeq: task.lastSeq,
      msgId,
      event: {
        type: 'TaskAttemptFailed',
        graphId,
        taskId,
        data: { claimToken, error, history, retryAt: now + retryDelayMs(attempt, claimToken) },
      },
    };
  }
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
        reason: error.retryable ? 'attempts_exhausted' : 'not_retryable',
        decidedBy: 'holder',
        error,
        history,
      },
    },
  };
}
