import { Gauge, type Registry } from 'prom-client';
import type { AppContext } from '../../../node/app-context.ts';
import type { StatusCountRow } from '../../../projections/index.ts';
import { GraphStatusSchema, TaskStatusSchema } from '../../../protocol/index.ts';

/** Scrapes closer together than this (several Prometheus servers) reuse the last counts. */
const COUNT_REUSE_MS = 1_000;

/**
 * Gauges read at scrape time from this node's read model and feed: graphs and tasks by status, projection
 * lag (events and seconds, as /readyz computes them), readiness. Every status is reported, zero included,
 * so a series never vanishes when its last graph moves on.
 */
export function registerReadModelGauges(ctx: AppContext, registry: Registry): void {
  const graphCounts = reused(ctx, () => ctx.readModel.graphs.countByStatus());
  const taskCounts = reused(ctx, () => ctx.readModel.tasks.countUnfinishedByStatus());
  new Gauge({
    name: 'am_graphs',
    help: 'Graphs by status, in this node read model',
    labelNames: ['status'] as const,
    registers: [registry],
    collect() {
      setAll(this, GraphStatusSchema.options, graphCounts());
    },
  });
  new Gauge({
    name: 'am_tasks',
    help: 'Tasks of unfinished graphs (not SUCCEEDED, FAILED or CANCELLED) by status, in this node read model',
    labelNames: ['status'] as const,
    registers: [registry],
    collect() {
      setAll(this, TaskStatusSchema.options, taskCounts());
    },
  });
  new Gauge({
    name: 'am_projection_lag_events',
    help: 'Events in the stream this node knows of and has not applied',
    registers: [registry],
    collect() {
      this.set(ctx.readiness.snapshot().lag);
    },
  });
  new Gauge({
    name: 'am_projection_lag_seconds',
    help: 'How long the oldest event known and not applied has been waiting (0 when caught up)',
    registers: [registry],
    collect() {
      this.set(ctx.readiness.snapshot().lagMs / 1000);
    },
  });
  new Gauge({
    name: 'am_stream_seq',
    help: 'The highest stream sequence this node knows of',
    registers: [registry],
    collect() {
      this.set(ctx.readiness.snapshot().streamSeq);
    },
  });
  new Gauge({
    name: 'am_ready',
    help: '1 when this node is ready (serves commands and claims), else 0',
    registers: [registry],
    collect() {
      this.set(ctx.readiness.ready ? 1 : 0);
    },
  });
}

function setAll(gauge: Gauge<'status'>, statuses: readonly string[], rows: readonly StatusCountRow[]): void {
  for (const status of statuses) gauge.set({ status }, 0);
  for (const row of rows) gauge.set({ status: row.status }, row.count);
}

/** The query's rows, asked again only once they are COUNT_REUSE_MS old (on the node's clock). */
function reused(ctx: AppContext, query: () => StatusCountRow[]): () => StatusCountRow[] {
  let rows: StatusCountRow[] = [];
  let at = Number.NEGATIVE_INFINITY;
  return () => {
    const now = ctx.clock.now();
    if (now - at >= COUNT_REUSE_MS || now < at) {
      rows = query();
      at = now;
    }
    return rows;
  };
}
