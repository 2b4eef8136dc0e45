import type { Logger } from 'pino';
import type { AppliedBatch } from '../projections/index.ts';
import type { StreamMetrics } from './stream-metrics.ts';

export interface StreamObserverOptions {
  projector: { onApplied(listener: (batch: AppliedBatch) => void, opts?: { events?: boolean }): () => void };
  readiness: { whenReady(): Promise<void> };
  metrics: StreamMetrics;
  log: Logger;
}

/**
 * Feeds StreamMetrics with the events the projector applies, from the moment the node is first ready: the
 * catch-up after a start (a new node replays the whole stream) is history, not something that happened now,
 * and counting it would show as a burst of everything at once. Events applied after that, even while the
 * node lags or catches up after a reconnect, are observed once each. Nothing is observed during catch-up,
 * so a replay pays nothing for metrics. Returns the unsubscribe.
 */
export function observeStream(opts: StreamObserverOptions): () => void {
  let unsubscribe: (() => void) | null = null;
  let stopped = false;
  let warned = false;
  opts.readiness.whenReady().then(
    () => {
      if (stopped) return;
      unsubscribe = opts.projector.onApplied((batch) => {
        try {
          opts.metrics.observe(batch.events);
        } catch (error) {
          // A listener that throws stops the projector (its onError): metrics must never do that.
          if (!warned) opts.log.warn({ err: error }, 'stream metrics could not count an event');
          warned = true;
        }
      });
    },
    () => {}, // stopping or failed before it was ready: nothing to observe
  );
  return () => {
    stopped = true;
    unsubscribe?.();
  };
}
