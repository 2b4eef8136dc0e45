import { type Context, context, propagation, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import type { ClaimReply } from '../protocol/index.ts';

/**
 * The worker's side of a task's trace (docs/metrics.md "Tracing"), through @opentelemetry/api only: a
 * claim that carries a `traceparent` (the server traces) runs as `am.worker.task` inside the graph's
 * trace, and every call made meanwhile sends its span as the `traceparent` header. With no provider in
 * this process the spans are no-ops; with no traceparent in the claim nothing is started at all.
 */
const TRACER_NAME = 'agentmanager-worker';

/** The traceparent of the active span, for an outgoing request's headers; undefined when untraced. */
export function outgoingTraceparent(): string | undefined {
  if (trace.getActiveSpan() === undefined) return undefined;
  const carrier: { traceparent?: string } = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

/** Runs a claimed task (execute, heartbeats, result) as the span `am.worker.task`, child of the claim. */
export async function runTraced<T>(claim: ClaimReply, fn: () => Promise<T>): Promise<T> {
  if (claim.traceparent === undefined) return fn();
  const parent = propagation.extract(ROOT_CONTEXT, { traceparent: claim.traceparent });
  const span = trace.getTracer(TRACER_NAME).startSpan(
    'am.worker.task',
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'am.graph_id': claim.task.graphId,
        'am.task_id': claim.task.id,
        'am.attempt': claim.task.attempt,
      },
    },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), fn);
  } finally {
    span.end();
  }
}

/** A span marking one reported step (the parent of its progress call); undefined when untraced. */
export function stepContext(index: number): Context | undefined {
  if (trace.getActiveSpan() === undefined) return undefined;
  const span = trace
    .getTracer(TRACER_NAME)
    .startSpan('am.worker.step', { attributes: { 'am.step_index': index } });
  span.end();
  return trace.setSpan(context.active(), span);
}
