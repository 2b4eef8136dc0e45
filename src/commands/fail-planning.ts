import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { GraphState } from '../events/index.ts';
import { GraphIdSchema, LIMITS } from '../protocol/index.ts';
import { commandSchema } from './command.ts';
import type { Decision } from './decision.ts';
import { graphRef, refuseTerminal, requireGraph } from './guards.ts';

export const FailPlanningSchema = commandSchema(
  'FailPlanning',
  z.object({
    graphId: GraphIdSchema,
    /** An AM error code or a planner-specific one, e.g. AM_ERR_LLM_INVALID_OUTPUT. */
    code: z.string().min(1).max(64),
    message: z.string().max(LIMITS.maxErrorMessageChars),
  }),
);
export type FailPlanning = z.infer<typeof FailPlanningSchema>;

/** The planner gave up: the graph fails with `planning_failed`. */
export function decideFailPlanning(command: FailPlanning, state: GraphState | null): Decision | AppError {
  const { graphId, code, message } = command.data;
  const graph = requireGraph(state, graphId);
  if (graph instanceof AppError) return graph;
  const ended = refuseTerminal(graph);
  if (ended) return ended;
  if (graph.status !== 'SUBMITTED' && graph.status !== 'PLANNING') {
    return new AppError('AM_ERR_GRAPH_STATE', `graph ${graphId} is ${graph.status}; it is not planning`, {
      details: { status: graph.status },
    });
  }
  return {
    kind: 'append',
    to: graphRef(graphId),
    expectedSeq: graph.lastSeq,
    msgId: `planning-failed:${graphId}`,
    event: { type: 'GraphPlanningFailed', graphId, data: { code, message } },
  };
}
