import { Counter, collectDefaultMetrics, Histogram, type Metric, Registry } from 'prom-client';

/** What a worker event says about a task (src/worker's WorkerEvent, structurally: api does not import worker). */
export interface WorkerTaskEvent {
  type: string;
  task?: { graphId: string; id: string; kind: string };
}

/** Seconds: as am_task_run_seconds on the server. */
const RUN_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

/** How a held task ended on this worker; the other events (link, error, …) are not about one task. */
const OUTCOMES: ReadonlySet<string> = new Set(['completed', 'failed', 'released', 'cancelled', 'lost']);

/**
 * The registry `am worker --metrics-port` serves: this worker's model calls (LlmMetrics: latency, tokens,
 * errors by role and model), the tasks it ran by kind and outcome, and their run time (claimed to outcome,
 * on this process's monotonic clock). Per process: sum across workers.
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  readonly tasks = new Counter({
    name: 'am_worker_tasks_total',
    help: 'Tasks this worker held, by kind and outcome (completed, failed, released, cancelled, lost)',
    labelNames: ['kind', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly runTime = new Histogram({
    name: 'am_worker_task_run_seconds',
    help: 'Claim to outcome on this worker, by kind and outcome',
    labelNames: ['kind', 'outcome'] as const,
    buckets: RUN_BUCKETS,
    registers: [this.registry],
  });
  readonly #now: () => number;
  /** `<graphId> <taskId>` → when it was claimed; a worker holds a task once at a time. */
  readonly #held = new Map<string, number>();

  constructor(opts: { llm: { all(): Metric[] }; now?: () => number }) {
    this.#now = opts.now ?? (() => performance.now());
    collectDefaultMetrics({ register: this.registry, prefix: 'am_' });
    for (const metric of opts.llm.all()) this.registry.registerMetric(metric);
  }

  /** Pass every worker event (createWorker's onEvent). */
  onEvent(event: WorkerTaskEvent): void {
    const task = event.task;
    if (task === undefined) return;
    const key = `${task.graphId} ${task.id}`;
    if (event.type === 'claimed') {
      this.#held.set(key, this.#now());
      return;
    }
    if (!OUTCOMES.has(event.type)) return;
    const labels = { kind: task.kind, outcome: event.type };
    this.tasks.inc(labels);
    const claimedAt = this.#held.get(key);
    if (claimedAt === undefined) return;
    this.#held.delete(key);
    this.runTime.observe(labels, Math.max(0, this.#now() - claimedAt) / 1000);
  }
}
