import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { GraphState } from '../events/index.ts';
import { GraphIdSchema } from '../protocol/index.ts';
import { commandSchema } from './command.ts';
import type { Decision } from './decision.ts';
import { graphRef, refuseTerminal, requireGraph } from './guards.ts';
import { nextMarkerAttempt } from './marker.ts';

export const StartAuditSchema = commandSchema(
  'StartAudit',
  z.object({
    graphId: GraphIdSchema,
    cycle: z.number().int().min(1),
    /** The marker's lease (ms). */
    markerMs: z.number().int().positive(),
    /** Markers allowed for one cycle's audit before the manager gives up. */
    maxAttempts: z.number().int().min(1),
    /** The marker the caller holds (renew it, or take the next attempt after a failed call). */
    held: z.object({ attempt: z.number().int().min(1), renew: z.boolean() }).optional(),
  }),
);
export type StartAudit = z.infer<typeof StartAuditSchema>;

/** Claims the audit of a completed cycle with a marker (same lease, takeover and cap as planning). */
export function decideStartAudit(command: StartAudit, state: GraphState | null): Decision | AppError {
  const { graphId, cycle, markerMs, maxAttempts, held } = command.data;
  const { now } = command.metadata;
  const graph = requireGraph(state, graphId);
  if (graph instanceof AppError) return graph;
  const ended = refuseTerminal(graph);
  if (ended) return ended;
  if (graph.status !== 'AUDITING' || cycle !== graph.cycle) {
    return new AppError('AM_ERR_GRAPH_STATE', `graph ${graphId} is not auditing cycle ${cycle}`, {
      details: { status: graph.status, cycle: graph.cycle },
    });
  }
  const marker = graph.audit?.cycle === cycle ? graph.audit : null;
  const attempt = nextMarkerAttempt(
    marker,
    now,
    maxAttempts,
    `audit of cycle ${cycle} of graph ${graphId}`,
    held,
  );
  if (attempt instanceof AppError) return attempt;
  return {
    kind: 'append',
    to: graphRef(graphId),
    expectedSeq: graph.lastSeq,
    // Not shared, like the planning marker: it grants one manager the LLM call.
    msgId: `audit-start:${graphId}:${cycle}:${attempt}:${command.metadata.newId()}`,
    event: { type: 'AuditStarted', graphId, data: { cycle, attempt, leaseUntil: now + markerMs } },
  };
}
