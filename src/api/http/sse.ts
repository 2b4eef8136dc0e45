import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors.ts';
import type { RecordedEvent } from '../../events/index.ts';
import type { AppContext } from '../../node/app-context.ts';
import type { Principal } from '../../node/principal.ts';
import { GraphIdParamSchema, TrailEventSchema } from '../../protocol/index.ts';
import { trailEvent } from '../graph-operations.ts';
import { parseInput } from '../parse-input.ts';
import type { RouteDoc } from './openapi-spec.ts';

/** How often an idle stream sends a comment, so proxies keep it open. */
const KEEPALIVE_MS = 15_000;

/**
 * GET /v1/graphs/:id/events/stream — the graph's trail as Server-Sent Events: the backlog from the
 * stream, then live events as this process projects them. `id:` is the stream sequence, so a client
 * can resume with `Last-Event-ID`.
 */
export function registerEventStream(
  app: FastifyInstance,
  ctx: AppContext,
  authenticated: (request: FastifyRequest, reply: FastifyReply) => Promise<Principal>,
): void {
  app.get('/v1/graphs/:id/events/stream', async (request, reply) => {
    await authenticated(request, reply);
    const { id } = parseInput(GraphIdParamSchema, request.params);
    const lastEventId = Number(request.headers['last-event-id'] ?? 0);
    const fromSeq = Number.isFinite(lastEventId) && lastEventId > 0 ? lastEventId + 1 : undefined;
    const raw = reply.raw;
    let sentUpTo = 0;
    const pending: RecordedEvent[] = [];
    let live = false;
    const write = (seq: number, type: string, data: unknown) => {
      if (seq <= sentUpTo) return;
      sentUpTo = seq;
      raw.write(`id: ${seq}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const send = (recorded: RecordedEvent) => {
      const entry = trailEvent({
        seq: recorded.seq,
        subject: recorded.subject,
        at: recorded.event.at,
        event: recorded.event,
      });
      write(entry.seq, entry.type, entry);
    };
    // Subscribe first so nothing falls between the backlog read and the live feed.
    const unsubscribe = ctx.projector.onApplied((batch) => {
      for (const recorded of batch.events) {
        if (recorded.event.graphId !== id) continue;
        if (!live) pending.push(recorded);
        else send(recorded);
      }
    });
    let keepalive: NodeJS.Timeout | undefined;
    let closed = false;
    raw.on('close', () => {
      closed = true;
      clearInterval(keepalive);
      unsubscribe();
    });
    // The backlog is read before the status is sent, so an unknown graph (or a store that is down) gets a
    // problem+json answer instead of a stream that never says anything.
    let backlog: Awaited<ReturnType<AppContext['store']['readTrail']>>;
    try {
      backlog = await ctx.store.readTrail(id, fromSeq === undefined ? {} : { fromSeq });
      if (backlog.length === 0 && pending.length === 0 && !(await graphExists(ctx, id, fromSeq))) {
        throw new AppError('AM_ERR_GRAPH_NOT_FOUND', `no graph ${id}`);
      }
    } catch (error) {
      unsubscribe();
      throw error;
    }
    reply.hijack();
    // The client went away while the backlog was read.
    if (closed) return;
    raw.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // Now, not with the first event: a client resuming at the tail must learn at once that it is connected.
    raw.flushHeaders();
    keepalive = setInterval(() => raw.write(': keepalive\n\n'), KEEPALIVE_MS);
    for (const entry of backlog) {
      const event = trailEvent(entry);
      write(event.seq, event.type, event);
    }
    live = true;
    for (const recorded of pending.splice(0)) send(recorded);
  });
}

/**
 * As `GET /v1/graphs/:id/events` decides: the read model knows the graph, or the stream has its events
 * (a graph just submitted may not be projected here yet). Resuming past the end reads from the start.
 */
async function graphExists(ctx: AppContext, id: string, fromSeq: number | undefined): Promise<boolean> {
  if (ctx.readModel.graphs.row(id)) return true;
  if (fromSeq === undefined) return false;
  return (await ctx.store.readTrail(id, { limit: 1 })).length > 0;
}

/** The OpenAPI entry of the stream (it is not an operation, so `route()` does not document it). */
export const EVENT_STREAM_DOC: RouteDoc = {
  method: 'GET',
  url: '/v1/graphs/:id/events/stream',
  op: 'StreamGraphEvents',
  status: 200,
  summary:
    'The audit trail of a graph as Server-Sent Events (id: seq, event: type, data: trail event), then live events; resume with Last-Event-ID. HTTP only',
  input: GraphIdParamSchema,
  reply: TrailEventSchema,
  produces: 'text/event-stream',
  headers: [
    {
      name: 'Last-Event-ID',
      description: 'Resume after this stream sequence (the id: of the last message received)',
    },
  ],
};
