import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { GraphState } from '../events/index.ts';
import { StepSchema } from '../protocol/index.ts';
import { commandSchema } from './command.ts';
import type { Decision } from './decision.ts';
import { requireHeldTask } from './guards.ts';
import { holderFields } from './holder.ts';

export const ReportProgressSchema = commandSchema(
  'ReportProgress',
  z.object({
    ...holderFields,
    /** The step's position in the attempt's history (0-based): a resent step keeps its index. */
    index: z.number().int().nonnegative(),
    step: StepSchema,
  }),
);
export type ReportProgress = z.infer<typeof ReportProgressSchema>;

/**
 * Streams one ReAct step. It goes to the task's progress subject without an expected sequence: steps
 * never change the task aggregate, so they must not make the holder's next heartbeat or result conflict.
 */
export function decideReportProgress(command: ReportProgress, state: GraphState | null): Decision | AppError {
  const { graphId, taskId, agentId, claimToken, index, step } = command.data;
  const held = requireHeldTask(state, command.data);
  if (held instanceof AppError) return held;
  return {
    kind: 'append',
    to: { kind: 'progress', graphId, taskId },
    expectedSeq: null,
    msgId: `progress:${agentId}:${claimToken}:${index}`,
    event: { type: 'TaskProgressed', graphId, taskId, data: { claimToken, index, step } },
  };
}
