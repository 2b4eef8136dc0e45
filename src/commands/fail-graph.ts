import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { GraphState } from '../events/index.ts';
import { GraphFailureReasonSchema, GraphIdSchema, LIMITS } from '../protocol/index.ts';
import { commandSchema } from './command.ts';
import type { Decision } from './decision.ts';
import { graphRef, requireGraph } from './guards.ts';

export const FailGraphSchema = commandSchema(
  'FailGraph',
  z.object({
    graphId: GraphIdSchema,
    reason: GraphFailureReasonSchema,
    message: z.string().max(LIMITS.maxErrorMessageChars),
    /** The tasks that caused it (e.g. the FAILED ones for `task_failed`). */
    tasks: z.array(z.string()).max(LIMITS.maxTasksPerGraph).optional(),
  }),
);
export type FailGraph = z.infer<typeof FailGraphSchema>;

/** Ends a graph that cannot go on. Outstanding claims are voided; failing twice is a no-op. */
export function decideFailGraph(command: FailGraph, state: GraphState | null): Decision | AppError {
  const { graphId, reason, message, tasks } = command.data;
  const graph = requireGraph(state, graphId);
  if (graph instanceof AppError) return graph;
  if (graph.status === 'FAILED') return { kind: 'noop', seq: graph.lastSeq };
  if (graph.status === 'CANCELLED')
    return new AppError('AM_ERR_GRAPH_CANCELLED', `graph ${graphId} was cancelled`);
  if (graph.status === 'SUCCEEDED')
    return new AppError('AM_ERR_GRAPH_FINISHED', `graph ${graphId} is SUCCEEDED`);
  return {
    kind: 'append',
    to: graphRef(graphId),
    expectedSeq: graph.lastSeq,
    // Shared, but per graph state: a retried graph may fail again for the same reason in the same cycle.
    msgId: `fail:${graphId}:${reason}:${graph.cycle}:${graph.lastSeq}`,
    event: {
      type: 'GraphFailed',
      graphId,
      data: { reason, message, ...(tasks === undefined ? {} : { tasks }) },
    },
  };
}
