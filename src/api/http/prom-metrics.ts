import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { AppContext } from '../../node/app-context.ts';

/** Prometheus metrics of one process (GET /metrics). */
export class HttpMetrics {
  readonly registry = new Registry();
  readonly requestDuration = new Histogram({
    name: 'am_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
    registers: [this.registry],
  });
  readonly claims = new Counter({
    name: 'am_claims_total',
    help: 'Claim requests by outcome (claimed, empty)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });

  constructor(ctx: AppContext) {
    collectDefaultMetrics({ register: this.registry, prefix: 'am_' });
    new Gauge({
      name: 'am_projection_applied_seq',
      help: 'Last stream sequence applied by this process read model',
      registers: [this.registry],
      collect() {
        this.set(ctx.projector.appliedSeq);
      },
    });
    // Counters (they only grow, so rate() works) that mirror the claim path's own tallies at scrape time.
    new Counter({
      name: 'am_claims_appended_total',
      help: 'Claims this process appended (TaskClaimed accepted)',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(ctx.metrics.claimed);
      },
    });
    new Counter({
      name: 'am_claim_conflicts_total',
      help: 'Claim appends this process lost to a concurrent change (expected-sequence conflicts)',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(ctx.metrics.conflicts);
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
  }
}
