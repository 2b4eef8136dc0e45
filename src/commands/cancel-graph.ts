import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { GraphState } from '../events/index.ts';
import { GraphIdSchema, LIMITS } from '../protocol/index.ts';
import { commandSchema } from './command.ts';
import type { Decision } from './decision.ts';
import { graphRef, requireGraph } from './guards.ts';

export const CancelGraphSchema = commandSchema(
  'CancelGraph',
  z.object({ graphId: GraphIdSchema, reason: z.string().max(LIMITS.maxErrorMessageChars).optional() }),
);
export type CancelGraph = z.infer<typeof CancelGraphSchema>;

/**
 * Cancels a graph that has not ended: every unfinished task is cancelled and its claim voided in the
 * same fold step. Cancelling twice is a no-op answering with a sequence at which the read model shows it.
 */
export function decideCancelGraph(command: CancelGraph, state: GraphState | null): Decision | AppError {
  const { graphId, reason } = command.data;
  const graph = requireGraph(state, graphId);
  if (graph instanceof AppError) return graph;
  if (graph.status === 'CANCELLED') return { kind: 'noop', seq: graph.lastSeq };
  if (graph.status === 'SUCCEEDED' || graph.status === 'FAILED') {
    return new AppError('AM_ERR_GRAPH_FINISHED', `graph ${graphId} is ${graph.status}`);
  }
  return {
    kind: 'append',
    to: graphRef(graphId),
    expectedSeq: graph.lastSeq,
    // The same action whoever asks: two admins cancelling at once make one event.
    msgId: `cancel:${graphId}`,
    event: { type: 'GraphCancelled', graphId, data: { reason: reason ?? null } },
  };
}
