import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { AppContext } from '../../../node/app-context.ts';
import { registerReadModelGauges } from './read-model-gauges.ts';

/**
 * The Prometheus registry of one HTTP app (GET /metrics): HTTP latency and the process's defaults, the claim
 * path's tallies, the read-model gauges, and the node's stream and LLM metrics (docs/metrics.md lists them
 * all). Per app, never the global registry: two nodes in one process share nothing.
 */
export class HttpMetrics {
  readonly registry = new Registry();
  readonly requestDuration = new Histogram({
    name: 'am_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
    registers: [this.registry],
  });

  constructor(ctx: AppContext) {
    collectDefaultMetrics({ register: this.registry, prefix: 'am_' });
    const { metrics } = ctx;
    new Gauge({
      name: 'am_projection_applied_seq',
      help: 'Last stream sequence applied by this process read model',
      registers: [this.registry],
      collect() {
        this.set(ctx.projector.appliedSeq);
      },
    });
    // Counters (they only grow, so rate() works) that mirror the claim path's own tallies at scrape time:
    // the claim path pays an increment of a plain number, nothing more.
    new Counter({
      name: 'am_claims_total',
      help: 'Claim decisions this process made, by outcome (claimed, conflict, stale)',
      labelNames: ['outcome'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc({ outcome: 'claimed' }, metrics.claimed);
        this.inc({ outcome: 'conflict' }, metrics.conflicts);
        this.inc({ outcome: 'stale' }, metrics.stale);
      },
    });
    new Counter({
      name: 'am_claims_appended_total',
      help: 'Claims this process appended (TaskClaimed accepted)',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(metrics.claimed);
      },
    });
    new Counter({
      name: 'am_claim_conflicts_total',
      help: 'Claim appends this process lost to a concurrent change (expected-sequence conflicts)',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(metrics.conflicts);
      },
    });
    new Gauge({
      name: 'am_ready_tasks',
      help: 'Tasks in the in-memory READY index',
      registers: [this.registry],
      collect() {
        this.set(ctx.readyIndex.size);
      },
    });
    new Gauge({
      name: 'am_claims_waiting',
      help: 'Claim requests long-polling on this process',
      registers: [this.registry],
      collect() {
        this.set(ctx.claims.waiting);
      },
    });
    registerReadModelGauges(ctx, this.registry);
    for (const metric of [...metrics.stream.all(), ...metrics.llm.all()])
      this.registry.registerMetric(metric);
  }
}
