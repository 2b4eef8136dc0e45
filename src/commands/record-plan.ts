import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { GraphState } from '../events/index.ts';
import { GraphIdSchema, LIMITS, TaskSpecSchema, UsageSchema } from '../protocol/index.ts';
import { commandSchema } from './command.ts';
import type { Decision } from './decision.ts';
import { graphRef, refuseTerminal, requireGraph } from './guards.ts';
import { checkPlan } from './plan-validation.ts';

export const RecordPlanSchema = commandSchema(
  'RecordPlan',
  z.object({
    graphId: GraphIdSchema,
    tasks: z.array(TaskSpecSchema).max(LIMITS.maxTasksPerGraph),
    /** Who made the plan, e.g. `offline` or a model name. */
    planner: z.string().max(200),
    usage: UsageSchema.optional(),
  }),
);
export type RecordPlan = z.infer<typeof RecordPlanSchema>;

/** Records the planner's plan: the graph starts RUNNING with its roots READY. */
export function decideRecordPlan(command: RecordPlan, state: GraphState | null): Decision | AppError {
  const { graphId, tasks, planner, usage } = command.data;
  const graph = requireGraph(state, graphId);
  if (graph instanceof AppError) return graph;
  const ended = refuseTerminal(graph);
  if (ended) return ended;
  if (graph.explicit || (graph.status !== 'SUBMITTED' && graph.status !== 'PLANNING')) {
    return new AppError('AM_ERR_GRAPH_STATE', `graph ${graphId} is ${graph.status}; it is already planned`, {
      details: { status: graph.status },
    });
  }
  const invalid = checkPlan(tasks);
  if (invalid) return invalid;
  return {
    kind: 'append',
    to: graphRef(graphId),
    expectedSeq: graph.lastSeq,
    // Shared: a graph is planned once; a second planner's plan is moot whoever made it.
    msgId: `planned:${graphId}`,
    event: { type: 'GraphPlanned', graphId, data: { tasks, planner, ...(usage ? { usage } : {}) } },
  };
}
