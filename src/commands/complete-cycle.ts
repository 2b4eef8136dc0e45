import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { GraphState } from '../events/index.ts';
import { GraphIdSchema } from '../protocol/index.ts';
import { commandSchema } from './command.ts';
import type { Decision } from './decision.ts';
import { graphRef, requireGraph } from './guards.ts';

export const CompleteCycleSchema = commandSchema(
  'CompleteCycle',
  z.object({ graphId: GraphIdSchema, cycle: z.number().int().min(1) }),
);
export type CompleteCycle = z.infer<typeof CompleteCycleSchema>;

/**
 * True when the graph's current cycle is done and not yet recorded: the graph is RUNNING, every work
 * task is COMPLETED (the synthesis task never counts) and no GraphCompleted exists for the cycle. This
 * is the question the completion reconciler asks; CompleteCycle is accepted exactly when it holds.
 */
export function isCycleComplete(state: GraphState): boolean {
  if (state.status !== 'RUNNING' || state.cycle < 1 || state.completedCycle >= state.cycle) return false;
  let work = 0;
  for (const task of state.tasks.values()) {
    if (task.kind !== 'work') continue;
    if (task.status !== 'COMPLETED') return false;
    work += 1;
  }
  return work > 0;
}

/** Records that every work task of `cycle` is COMPLETED: the graph moves on to its audit. */
export function decideCompleteCycle(command: CompleteCycle, state: GraphState | null): Decision | AppError {
  const { graphId, cycle } = command.data;
  const graph = requireGraph(state, graphId);
  if (graph instanceof AppError) return graph;
  if (cycle !== graph.cycle || !isCycleComplete(graph)) {
    return new AppError('AM_ERR_GRAPH_STATE', `cycle ${cycle} of graph ${graphId} is not complete`, {
      details: { status: graph.status, cycle: graph.cycle, completedCycle: graph.completedCycle },
    });
  }
  return {
    kind: 'append',
    to: graphRef(graphId),
    expectedSeq: graph.lastSeq,
    // The same fact whoever records it: managers on two nodes make one event.
    msgId: `complete:${graphId}:${cycle}`,
    event: { type: 'GraphCompleted', graphId, data: { cycle } },
  };
}
