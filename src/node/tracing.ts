import {
  type Attributes,
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { isAppError } from '../errors.ts';
import type { Projector } from '../projections/index.ts';

/**
 * Server spans (docs/metrics.md "Tracing"). Everything goes through @opentelemetry/api: with no provider
 * installed (AM_OTLP_ENDPOINT unset) the tracer is the no-op one and no traceparent is ever produced.
 */
export const TRACER_NAME = 'agentmanager';

/** The W3C traceparent of a context's span, or undefined when it has none (or tracing is off). */
export function traceparentOf(ctx: Context): string | undefined {
  const carrier: { traceparent?: string } = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent;
}

/** The traceparent of the active span: what an event appended now carries in its metadata. */
export function activeTraceparent(): string | undefined {
  const span = trace.getActiveSpan();
  return span === undefined ? undefined : traceparentOf(trace.setSpan(ROOT_CONTEXT, span));
}

/** A context whose parent is the remote span a traceparent names (the root context when there is none). */
export function contextFrom(traceparent: string | undefined): Context {
  return traceparent === undefined ? ROOT_CONTEXT : propagation.extract(ROOT_CONTEXT, { traceparent });
}

function endWith(span: Span, error: unknown): void {
  // The code only: messages may quote inputs.
  span.setStatus({ code: SpanStatusCode.ERROR, message: isAppError(error) ? error.code : 'internal' });
}

/**
 * Runs `fn` as the active span `name`, a child of `parent`. The one place server operations get a span
 * (operations.ts `invoke`), so HTTP, NATS and MCP are traced alike.
 */
export async function inSpan<T>(
  name: string,
  parent: Context,
  opts: { kind?: SpanKind; attributes?: Attributes },
  fn: (ctx: Context) => Promise<T>,
): Promise<T> {
  const span = trace.getTracer(TRACER_NAME).startSpan(
    name,
    {
      kind: opts.kind ?? SpanKind.INTERNAL,
      ...(opts.attributes ? { attributes: opts.attributes } : {}),
    },
    parent,
  );
  const ctx = trace.setSpan(parent, span);
  try {
    return await context.with(ctx, () => fn(ctx));
  } catch (error) {
    endWith(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/** Graph events after which no task of the graph is claimed again. */
const GRAPH_DONE: ReadonlySet<string> = new Set(['GraphSucceeded', 'GraphCancelled']);

/**
 * The traceparent each graph was submitted under (GraphSubmitted's metadata), so a claim of one of its
 * tasks joins the graph's trace. Kept only while tracing is on, and only for graphs this node saw
 * submitted while it ran; a claim of another graph's task starts a trace of its own.
 */
export class GraphTraces {
  readonly #byGraph = new Map<string, string>();

  constructor(projector: Pick<Projector, 'onApplied'>) {
    projector.onApplied((batch) => {
      for (const { event } of batch.events) {
        if (event.graphId === undefined) continue;
        if (event.type === 'GraphSubmitted' && event.traceparent !== undefined) {
          this.#byGraph.set(event.graphId, event.traceparent);
        } else if (GRAPH_DONE.has(event.type)) {
          this.#byGraph.delete(event.graphId);
        }
      }
    });
  }

  /**
   * Runs one claim attempt as `am.task.claim`, a child of the graph's submit span. The request's own span
   * (ClaimTask, whose trace is the worker's, not the graph's) cannot be its parent: it is linked instead.
   */
  claim<T>(
    graphId: string,
    attributes: Attributes,
    fn: (traceparent: string | undefined) => Promise<T>,
  ): Promise<T> {
    const request = trace.getActiveSpan();
    const parent = contextFrom(this.#byGraph.get(graphId));
    const span = trace.getTracer(TRACER_NAME).startSpan(
      'am.task.claim',
      {
        kind: SpanKind.INTERNAL,
        attributes: { ...attributes, 'am.graph_id': graphId },
        ...(request ? { links: [{ context: request.spanContext() }] } : {}),
      },
      parent,
    );
    const ctx = trace.setSpan(parent, span);
    return context
      .with(ctx, () => fn(traceparentOf(ctx)))
      .catch((error: unknown) => {
        endWith(span, error);
        throw error;
      })
      .finally(() => span.end());
  }
}
