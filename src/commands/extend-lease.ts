import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { GraphState } from '../events/index.ts';
import { commandSchema } from './command.ts';
import type { Decision } from './decision.ts';
import { requireHeldTask, taskRef } from './guards.ts';
import { holderFields } from './holder.ts';

export const ExtendLeaseSchema = commandSchema('ExtendLease', z.object(holderFields));
export type ExtendLease = z.infer<typeof ExtendLeaseSchema>;

/**
 * A heartbeat: the holder keeps its claim for another `leaseMs`. On a cancelled graph it is refused with
 * AM_ERR_GRAPH_CANCELLED, which the API answers as `cancelled: true` so the worker stops.
 */
export function decideExtendLease(command: ExtendLease, state: GraphState | null): Decision | AppError {
  const { graphId, taskId, agentId, claimToken } = command.data;
  const { now } = command.metadata;
  const held = requireHeldTask(state, command.data);
  if (held instanceof AppError) return held;
  return {
    kind: 'append',
    to: taskRef(graphId, taskId),
    expectedSeq: held.task.lastSeq,
    // Per heartbeat: two heartbeats of one claim are two requests.
    msgId: `lease:${agentId}:${claimToken}:${now}`,
    event: {
      type: 'TaskLeaseExtended',
      graphId,
      taskId,
      data: { claimToken, leaseUntil: now + held.graph.options.leaseMs },
    },
  };
}
