import { v4 as uuidv4, v5 as uuidv5 } from 'uuid';
import { decideCancelGraph, decidePlanTask, decideRetryGraph } from '../commands/index.ts';
import { AppError } from '../errors.ts';
import type { AppContext } from '../node/app-context.ts';
import type { Principal } from '../node/principal.ts';
import { awaitUnprojectedGraph, runGraphCommand } from '../node/run-command.ts';
import type {
  GraphEventsQuery,
  GraphView,
  ListGraphsQuery,
  SeqReply,
  SubmitGraphReply,
  SubmitGraphRequest,
  TaskGraph,
  TrailEvent,
} from '../protocol/index.ts';

/** Namespace of idempotent graph ids: graphId = UUIDv5(agentId + key). */
const IDEMPOTENCY_NAMESPACE = '6f1d8f4e-2c1b-4d6a-9a57-2f0f6c1a9b3e';
/** How long a read with `minSeq` waits for the local read model (DESIGN.md "Read-your-writes"). */
export const MIN_SEQ_WAIT_MS = 5_000;

export function graphIdFor(principal: Principal, idempotencyKey: string | undefined): string {
  return idempotencyKey === undefined
    ? uuidv4()
    : uuidv5(`${principal.agentId}\u0000${idempotencyKey}`, IDEMPOTENCY_NAMESPACE);
}

/** PlanTask: submit a goal (planned by the manager) or an explicit graph (planned on submission). */
export async function submitGraph(
  ctx: AppContext,
  principal: Principal,
  body: SubmitGraphRequest,
): Promise<SubmitGraphReply> {
  const graphId = graphIdFor(principal, body.idempotencyKey);
  const outcome = await runGraphCommand(ctx, principal.agentId, graphId, (state, metadata) =>
    decidePlanTask(
      {
        type: 'PlanTask',
        data: {
          graphId,
          goal: body.goal,
          ...(body.tasks === undefined ? {} : { tasks: body.tasks }),
          ...(body.options === undefined ? {} : { options: body.options }),
          ...(body.idempotencyKey === undefined ? {} : { idempotencyKey: body.idempotencyKey }),
        },
        metadata,
      },
      state,
    ),
  );
  return { graphId, seq: outcome.seq };
}

/** Waits (bounded) for the local read model to reach `minSeq`; answers with what it has either way. */
export async function awaitMinSeq(ctx: AppContext, minSeq: number | undefined): Promise<number> {
  if (minSeq !== undefined && minSeq > ctx.projector.appliedSeq)
    await ctx.projector.waitFor(minSeq, MIN_SEQ_WAIT_MS);
  return ctx.projector.appliedSeq;
}

/** The whole TaskGraph (the projection sequence it reflects goes in the `am-projection-seq` header). */
export async function getGraph(ctx: AppContext, graphId: string, minSeq?: number): Promise<TaskGraph> {
  await awaitMinSeq(ctx, minSeq);
  // A graph unknown here may be in the stream already: then the read waits for it, as with its minSeq.
  const graph =
    ctx.readModel.taskGraph(graphId) ??
    ((await awaitUnprojectedGraph(ctx, graphId)) ? ctx.readModel.taskGraph(graphId) : null);
  if (!graph) throw new AppError('AM_ERR_GRAPH_NOT_FOUND', `no graph ${graphId}`);
  return graph;
}

export async function listGraphs(
  ctx: AppContext,
  query: ListGraphsQuery & { minSeq?: number },
): Promise<{ graphs: GraphView[]; nextCursor: string | null; projectionSeq: number }> {
  const projectionSeq = await awaitMinSeq(ctx, query.minSeq);
  const page = ctx.readModel.graphs.list({
    limit: query.limit,
    ...(query.status === undefined ? {} : { status: query.status }),
    ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
  });
  return { ...page, projectionSeq };
}

/** The graph's audit trail, read from the stream itself (not the read model). */
export async function graphEvents(
  ctx: AppContext,
  graphId: string,
  query: GraphEventsQuery,
): Promise<{ events: TrailEvent[] }> {
  const entries = await ctx.store.readTrail(graphId, {
    ...(query.fromSeq === undefined ? {} : { fromSeq: query.fromSeq }),
    limit: query.limit,
  });
  if (entries.length === 0 && query.fromSeq === undefined && !ctx.readModel.graphs.row(graphId)) {
    throw new AppError('AM_ERR_GRAPH_NOT_FOUND', `no graph ${graphId}`);
  }
  return { events: entries.map(trailEvent) };
}

export function trailEvent(entry: Awaited<ReturnType<AppContext['store']['readTrail']>>[number]): TrailEvent {
  if ('error' in entry) {
    return {
      seq: entry.seq,
      subject: entry.subject,
      type: 'Unreadable',
      at: entry.at,
      data: { error: entry.error },
    };
  }
  const { event } = entry;
  return {
    seq: entry.seq,
    subject: entry.subject,
    type: event.type,
    at: event.at,
    actor: event.actor,
    ...(event.taskId === undefined ? {} : { taskId: event.taskId }),
    data: event.data,
  };
}

export async function cancelGraph(
  ctx: AppContext,
  principal: Principal,
  graphId: string,
  reason?: string,
): Promise<SeqReply> {
  const outcome = await runGraphCommand(ctx, principal.agentId, graphId, (state, metadata) =>
    decideCancelGraph(
      { type: 'CancelGraph', data: { graphId, ...(reason ? { reason } : {}) }, metadata },
      state,
    ),
  );
  return { seq: outcome.seq };
}

export async function retryGraph(ctx: AppContext, principal: Principal, graphId: string): Promise<SeqReply> {
  const outcome = await runGraphCommand(ctx, principal.agentId, graphId, (state, metadata) =>
    decideRetryGraph({ type: 'RetryGraph', data: { graphId }, metadata }, state),
  );
  return { seq: outcome.seq };
}
