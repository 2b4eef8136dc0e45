import type { NatsConnection } from '@nats-io/nats-core';
import type { AppContext } from '../../node/app-context.ts';

export interface ReadyNotifierOptions {
  ctx: AppContext;
  nc: NatsConnection;
  /** Where hints go (core NATS, not the stream). Default `am.notify.v1.ready`. */
  subject?: string;
}

/** A hint that work is READY; workers react by claiming, so a lost or spurious hint costs nothing. */
export interface ReadyHint {
  graphId: string;
  /** Tasks of that graph that became (or stayed) READY in the batch. */
  count: number;
}

/**
 * Publishes `am.notify.v1.ready` after each projector batch that left tasks READY: one hint per graph per
 * batch, so a plan of 500 tasks is one message, not 500. Every AM process publishes for what its own
 * read model saw; workers get duplicates from a cluster, which is harmless for a hint. Returns the
 * function that stops it.
 */
export function startReadyNotifier(opts: ReadyNotifierOptions): () => void {
  const { ctx, nc } = opts;
  const subject = opts.subject ?? 'am.notify.v1.ready';
  return ctx.projector.onApplied((batch) => {
    const counts = new Map<string, number>();
    for (const { graphId, taskId } of batch.tasks) {
      if (ctx.readyIndex.has(graphId, taskId)) counts.set(graphId, (counts.get(graphId) ?? 0) + 1);
    }
    if (counts.size === 0 || nc.isClosed() || nc.isDraining()) return;
    for (const [graphId, count] of counts) {
      const hint: ReadyHint = { graphId, count };
      try {
        nc.publish(subject, JSON.stringify(hint));
      } catch (error) {
        // A hint is best effort: workers that miss it still find the work on their next claim.
        ctx.log.warn({ err: error, subject }, 'could not publish a READY hint');
      }
    }
  });
}
