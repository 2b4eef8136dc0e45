import { AsyncLocalStorage } from 'node:async_hooks';
import {
  type Context,
  type ContextManager,
  context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';

/**
 * Process-wide tracing setup. Off by default: nothing here runs unless AM_OTLP_ENDPOINT is set (or a test
 * installs a provider), and @opentelemetry/api's no-op tracer makes every span call elsewhere free.
 */

/** `context.with` across awaits, timers and callbacks (the api alone keeps no context at all). */
class AsyncLocalContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.#storage.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const fn = target as unknown as (...args: unknown[]) => unknown;
    return ((...args: unknown[]) => this.with(ctx, () => fn(...args))) as unknown as T;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.#storage.disable();
    return this;
  }
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** W3C `traceparent` only (no tracestate, no baggage): what AM carries in headers and event metadata. */
class TraceparentPropagator implements TextMapPropagator {
  inject(ctx: Context, carrier: unknown, setter: TextMapSetter): void {
    const span = trace.getSpanContext(ctx);
    if (!span || !isSpanContextValid(span)) return;
    const flags = (span.traceFlags & 0xff).toString(16).padStart(2, '0');
    setter.set(carrier, 'traceparent', `00-${span.traceId}-${span.spanId}-${flags}`);
  }
  extract(ctx: Context, carrier: unknown, getter: TextMapGetter): Context {
    const raw = getter.get(carrier, 'traceparent');
    const value = Array.isArray(raw) ? raw[0] : raw;
    const match = typeof value === 'string' ? TRACEPARENT.exec(value.trim()) : null;
    if (!match) return ctx;
    const spanContext = {
      traceId: match[1] as string,
      spanId: match[2] as string,
      traceFlags: Number.parseInt(match[3] as string, 16),
      isRemote: true,
    };
    return isSpanContextValid(spanContext) ? trace.setSpanContext(ctx, spanContext) : ctx;
  }
  fields(): string[] {
    return ['traceparent'];
  }
}

/** Makes `provider` the global one, with a context manager and the traceparent propagator. */
export function installTracing(provider: TracerProvider): void {
  context.setGlobalContextManager(new AsyncLocalContextManager());
  propagation.setGlobalPropagator(new TraceparentPropagator());
  trace.setGlobalTracerProvider(provider);
}

/** Undoes installTracing (tests): the api is back to its no-op defaults. */
export function uninstallTracing(): void {
  trace.disable();
  propagation.disable();
  context.disable();
}

/** Whether a provider was installed: the propagator is set only by installTracing. */
export function tracingEnabled(): boolean {
  return propagation.fields().length > 0;
}

export interface TracingHandle {
  /** Flushes spans not yet exported and stops; gives up after `timeoutMs`. */
  shutdown(timeoutMs?: number): Promise<void>;
}

const NOTHING: TracingHandle = { shutdown: async () => {} };

/**
 * With an endpoint: a provider exporting over OTLP/HTTP in batches, installed globally. Without one nothing
 * is loaded (the SDK and the exporter are imported here, lazily) and the handle does nothing.
 */
export async function startTracing(endpoint: string | undefined): Promise<TracingHandle> {
  if (endpoint === undefined) return NOTHING;
  const [{ TracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }] = await Promise.all([
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/exporter-trace-otlp-http'),
  ]);
  const url = /\/v1\/traces\/?$/.test(endpoint) ? endpoint : `${endpoint.replace(/\/+$/, '')}/v1/traces`;
  const provider = new TracerProvider({
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url }) })],
  });
  installTracing(provider);
  return {
    async shutdown(timeoutMs = 5_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
        timer.unref();
      });
      await Promise.race([provider.shutdown().catch(() => {}), timeout]);
      clearTimeout(timer);
      uninstallTracing();
    },
  };
}
