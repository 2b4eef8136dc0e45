import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { GraphState } from '../events/index.ts';
import { GraphIdSchema } from '../protocol/index.ts';
import { commandSchema } from './command.ts';
import type { Decision } from './decision.ts';
import { graphRef, refuseTerminal, requireGraph } from './guards.ts';
import { nextMarkerAttempt } from './marker.ts';

export const StartPlanningSchema = commandSchema(
  'StartPlanning',
  z.object({
    graphId: GraphIdSchema,
    /** The marker's lease (ms): the manager renews it by appending a new marker before it runs out. */
    markerMs: z.number().int().positive(),
    /** Markers allowed for one graph's planning before the manager gives up. */
    maxAttempts: z.number().int().min(1),
    /** The marker the caller holds (renew it, or take the next attempt after a failed call). */
    held: z.object({ attempt: z.number().int().min(1), renew: z.boolean() }).optional(),
  }),
);
export type StartPlanning = z.infer<typeof StartPlanningSchema>;

/**
 * Claims the (paid) planning of a submitted graph with a marker, so two managers do not both call the
 * LLM; an expired marker is taken over with the next attempt number. Explicit graphs never plan.
 */
export function decideStartPlanning(command: StartPlanning, state: GraphState | null): Decision | AppError {
  const { graphId, markerMs, maxAttempts, held } = command.data;
  const { now } = command.metadata;
  const graph = requireGraph(state, graphId);
  if (graph instanceof AppError) return graph;
  const ended = refuseTerminal(graph);
  if (ended) return ended;
  if (graph.explicit || (graph.status !== 'SUBMITTED' && graph.status !== 'PLANNING')) {
    return new AppError('AM_ERR_GRAPH_STATE', `graph ${graphId} is ${graph.status}; nothing to plan`, {
      details: { status: graph.status },
    });
  }
  const attempt = nextMarkerAttempt(
    graph.status === 'PLANNING' ? graph.planning : null,
    now,
    maxAttempts,
    `planning of graph ${graphId}`,
    held,
  );
  if (attempt instanceof AppError) return attempt;
  return {
    kind: 'append',
    to: graphRef(graphId),
    expectedSeq: graph.lastSeq,
    // Not shared: a marker grants one manager the LLM call, so a second manager's append must conflict
    // rather than come back as a `duplicate: true` that it would take for its own success.
    msgId: `plan:${graphId}:${attempt}:${command.metadata.newId()}`,
    event: { type: 'PlanningStarted', graphId, data: { attempt, leaseUntil: now + markerMs } },
  };
}
