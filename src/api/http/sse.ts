import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RecordedEvent } from '../../events/index.ts';
import { GraphIdParamSchema } from '../../protocol/index.ts';
import type { AppContext } from '../app-context.ts';
import { trailEvent } from '../graph-operations.ts';
import { parseInput } from '../parse-input.ts';
import type { Principal } from '../principal.ts';

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
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    let sentUpTo = 0;
    const pending: RecordedEvent[] = [];
    let backlogDone = false;
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
        if (!backlogDone) pending.push(recorded);
        else send(recorded);
      }
    });
    const keepalive = setInterval(() => raw.write(': keepalive\n\n'), KEEPALIVE_MS);
    raw.on('close', () => {
      clearInterval(keepalive);
      unsubscribe();
    });
    try {
      const backlog = await ctx.store.readTrail(id, fromSeq === undefined ? {} : { fromSeq });
      for (const entry of backlog) {
        const event = trailEvent(entry);
        write(event.seq, event.type, event);
      }
    } catch (error) {
      raw.write(`event: error\ndata: ${JSON.stringify({ message: (error as Error).message })}\n\n`);
    }
    backlogDone = true;
    for (const recorded of pending.splice(0)) send(recorded);
  });
}
