import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { GraphState } from '../events/index.ts';
import { GraphIdSchema, LIMITS, SYNTHESIS_TASK_ID } from '../protocol/index.ts';
import { commandSchema } from './command.ts';
import type { Decision } from './decision.ts';
import { graphRef, requireGraph } from './guards.ts';

export const SucceedGraphSchema = commandSchema(
  'SucceedGraph',
  z.object({ graphId: GraphIdSchema, output: z.string().max(LIMITS.maxOutputChars) }),
);
export type SucceedGraph = z.infer<typeof SucceedGraphSchema>;

/** The synthesis task has completed: the graph succeeds with its output. Succeeding twice is a no-op. */
export function decideSucceedGraph(command: SucceedGraph, state: GraphState | null): Decision | AppError {
  const { graphId, output } = command.data;
  const graph = requireGraph(state, graphId);
  if (graph instanceof AppError) return graph;
  switch (graph.status) {
    case 'SUCCEEDED':
      return { kind: 'noop', seq: graph.lastSeq };
    case 'CANCELLED':
      return new AppError('AM_ERR_GRAPH_CANCELLED', `graph ${graphId} was cancelled`);
    case 'FAILED':
      return new AppError('AM_ERR_GRAPH_FINISHED', `graph ${graphId} is FAILED`);
    case 'SYNTHESIZING':
      break;
    case 'SUBMITTED':
    case 'PLANNING':
    case 'RUNNING':
    case 'AUDITING':
      return notSynthesized(graph);
    default: {
      const unreachable: never = graph.status;
      return unreachable;
    }
  }
  if (graph.tasks.get(SYNTHESIS_TASK_ID)?.status !== 'COMPLETED') return notSynthesized(graph);
  return {
    kind: 'append',
    to: graphRef(graphId),
    expectedSeq: graph.lastSeq,
    msgId: `succeed:${graphId}`,
    event: { type: 'GraphSucceeded', graphId, data: { output } },
  };
}

function notSynthesized(graph: GraphState): AppError {
  return new AppError('AM_ERR_GRAPH_STATE', `graph ${graph.id} has no completed synthesis`, {
    details: { status: graph.status },
  });
}
