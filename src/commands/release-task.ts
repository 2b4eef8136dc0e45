import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { GraphState } from '../events/index.ts';
import { LIMITS } from '../protocol/index.ts';
import { commandSchema } from './command.ts';
import type { Decision } from './decision.ts';
import { requireHeldTask, taskRef } from './guards.ts';
import { holderFields } from './holder.ts';

export const ReleaseTaskSchema = commandSchema(
  'ReleaseTask',
  z.object({ ...holderFields, reason: z.string().max(LIMITS.maxErrorMessageChars).optional() }),
);
export type ReleaseTask = z.infer<typeof ReleaseTaskSchema>;

/** The holder gives the task back (e.g. on shutdown): READY again at once, no attempt used. */
export function decideReleaseTask(command: ReleaseTask, state: GraphState | null): Decision | AppError {
  const { graphId, taskId, agentId, claimToken, reason } = command.data;
  const held = requireHeldTask(state, command.data);
  if (held instanceof AppError) return held;
  return {
    kind: 'append',
    to: taskRef(graphId, taskId),
    expectedSeq: held.task.lastSeq,
    msgId: `release:${agentId}:${claimToken}`,
    event: { type: 'TaskReleased', graphId, taskId, data: { claimToken, reason: reason ?? null } },
  };
}
