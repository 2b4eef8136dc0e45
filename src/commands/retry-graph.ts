import { z } from 'zod';
import { AppError } from '../errors.ts';
import { type GraphState, isRetryableFailure } from '../events/index.ts';
import { GraphIdSchema } from '../protocol/index.ts';
import { commandSchema } from './command.ts';
import type { Decision } from './decision.ts';
import { graphRef, requireGraph } from './guards.ts';

export const RetryGraphSchema = commandSchema('RetryGraph', z.object({ graphId: GraphIdSchema }));
export type RetryGraph = z.infer<typeof RetryGraphSchema>;

/** Gives every FAILED task of a graph that failed with `task_failed` or `synthesis_failed` a new attempt budget. */
export function decideRetryGraph(command: RetryGraph, state: GraphState | null): Decision | AppError {
  const { graphId } = command.data;
  const graph = requireGraph(state, graphId);
  if (graph instanceof AppError) return graph;
  if (graph.status !== 'FAILED' || !isRetryableFailure(graph.failure?.reason)) {
    const why = graph.status === 'FAILED' ? `failed with ${graph.failure?.reason}` : `is ${graph.status}`;
    return new AppError('AM_ERR_GRAPH_STATE', `graph ${graphId} ${why}; only a task failure can be retried`, {
      details: { status: graph.status, reason: graph.failure?.reason ?? null },
    });
  }
  const failed = [...graph.tasks.values()].filter((t) => t.status === 'FAILED').map((t) => t.id);
  if (failed.length === 0)
    return new AppError('AM_ERR_TASK_NOT_FAILED', `graph ${graphId} has no FAILED task`);
  return {
    kind: 'append',
    to: graphRef(graphId),
    expectedSeq: graph.lastSeq,
    // One retry per graph state: a graph may fail and be retried again later.
    msgId: `retry:${graphId}:${graph.lastSeq}`,
    event: { type: 'GraphRetried', graphId, data: { tasks: failed } },
  };
}
