import { Counter, Histogram, type Metric } from 'prom-client';
import type { DomainEvent, RecordedEvent } from '../events/index.ts';
import { SYNTHESIS_TASK_ID, type TaskKind, type Usage } from '../protocol/index.ts';

/** What a claimed task's queue wait is read from: when it became READY (or its backoff ended), and at which sequence. */
export interface ReadyTimes {
  availableAt: number;
  readySeq: number;
}

export interface StreamMetricsOptions {
  /** The task as the read model holds it after the batch (the projector's graph aggregate). */
  taskState: (graphId: string, taskId: string) => ReadyTimes | undefined;
  /** Distinct `model` label values kept; later ones are counted as `other` (workers name their model). Default 50. */
  maxModels?: number;
  /** Claims remembered for their run time; past this the oldest are forgotten (cancelled graphs leave some). Default 100000. */
  maxOpenClaims?: number;
}

/** Seconds: a ReAct task takes from a second to many minutes. */
const RUN_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
/** Seconds: a healthy queue hands work out within milliseconds; a starved one within minutes. */
const WAIT_BUCKETS = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

type RecordedWithAnomaly = RecordedEvent & { anomaly: string | null };

/**
 * Metrics derived from the events this node's projector applied: what happened to tasks and graphs in the
 * stream, whoever appended it. Every server of a cluster applies the same stream, so these series are the
 * same on each (aggregate with max, not sum). Times come from the events (`at`), not from this node's
 * clock. The metrics belong to no registry: the process that serves /metrics registers them.
 *
 * Label values are bounded: kinds, statuses, reasons, event types and anomalies are enums; models are
 * capped (`maxModels`). No graph, task or agent id is ever a label.
 */
export class StreamMetrics {
  readonly taskRun = new Histogram({
    name: 'am_task_run_seconds',
    help: 'Claim to result (TaskClaimed to TaskCompleted, TaskAttemptFailed or a holder TaskFailed), by kind and outcome',
    labelNames: ['kind', 'outcome'] as const,
    buckets: RUN_BUCKETS,
    registers: [],
  });
  readonly queueWait = new Histogram({
    name: 'am_task_queue_wait_seconds',
    help: 'READY (or the end of its retry backoff) to TaskClaimed, by kind',
    labelNames: ['kind'] as const,
    buckets: WAIT_BUCKETS,
    registers: [],
  });
  readonly claims = new Counter({
    name: 'am_task_claims_total',
    help: 'Claims the stream accepted (TaskClaimed that took effect), by kind',
    labelNames: ['kind'] as const,
    registers: [],
  });
  readonly results = new Counter({
    name: 'am_task_results_total',
    help: 'Results workers submitted that took effect, by kind and status (completed, failed_retryable, failed)',
    labelNames: ['kind', 'status'] as const,
    registers: [],
  });
  readonly tasksFailed = new Counter({
    name: 'am_tasks_failed_total',
    help: 'Tasks failed for good in their cycle (TaskFailed), by kind and reason',
    labelNames: ['kind', 'reason'] as const,
    registers: [],
  });
  readonly leaseExpiries = new Counter({
    name: 'am_task_lease_expiries_total',
    help: 'Claims taken back by the manager (lease_expired or timeout), the last attempt included',
    labelNames: ['reason'] as const,
    registers: [],
  });
  readonly releases = new Counter({
    name: 'am_task_releases_total',
    help: 'Claims given back by their holder (TaskReleased)',
    registers: [],
  });
  readonly audits = new Counter({
    name: 'am_audits_total',
    help: 'Audit outcomes (passed, failed)',
    labelNames: ['outcome'] as const,
    registers: [],
  });
  readonly reworkCycles = new Counter({
    name: 'am_rework_cycles_total',
    help: 'Failed audits that sent tasks back for another cycle',
    registers: [],
  });
  readonly reworkedTasks = new Counter({
    name: 'am_reworked_tasks_total',
    help: 'Tasks sent back by failed audits (those named and their dependents)',
    registers: [],
  });
  readonly graphsSubmitted = new Counter({
    name: 'am_graphs_submitted_total',
    help: 'Graphs submitted',
    registers: [],
  });
  readonly graphsFinished = new Counter({
    name: 'am_graphs_finished_total',
    help: 'Graphs that ended, by status (succeeded, failed, cancelled) and failure reason (none unless failed)',
    labelNames: ['status', 'reason'] as const,
    registers: [],
  });
  readonly tokens = new Counter({
    name: 'am_result_tokens_total',
    help: 'Tokens recorded in the stream (results, plans, audit reports), by role, model and kind (prompt, completion)',
    labelNames: ['role', 'model', 'kind'] as const,
    registers: [],
  });
  readonly anomalies = new Counter({
    name: 'am_stream_anomalies_total',
    help: 'Events recorded with no effect by rule (void claims, stale results, …), by event type and anomaly',
    labelNames: ['type', 'anomaly'] as const,
    registers: [],
  });

  readonly #taskState: StreamMetricsOptions['taskState'];
  readonly #maxModels: number;
  readonly #maxOpenClaims: number;
  readonly #models = new Set<string>();
  /** Claim token (the TaskClaimed sequence) → claim time (ms), until the claim ends. */
  readonly #openClaims = new Map<number, number>();
  // The hot children, bound once (the label lookup is done here, not per event).
  readonly #claimsByKind: Record<TaskKind, { inc(value?: number): void }>;
  readonly #waitByKind: Record<TaskKind, { observe(value: number): void }>;

  constructor(opts: StreamMetricsOptions) {
    this.#taskState = opts.taskState;
    this.#maxModels = opts.maxModels ?? 50;
    this.#maxOpenClaims = opts.maxOpenClaims ?? 100_000;
    this.#claimsByKind = { work: this.claims.labels('work'), synthesis: this.claims.labels('synthesis') };
    this.#waitByKind = { work: this.queueWait.labels('work'), synthesis: this.queueWait.labels('synthesis') };
  }

  /** Every metric, for a registry to register. */
  all(): Metric[] {
    return [
      this.taskRun,
      this.queueWait,
      this.claims,
      this.results,
      this.tasksFailed,
      this.leaseExpiries,
      this.releases,
      this.audits,
      this.reworkCycles,
      this.reworkedTasks,
      this.graphsSubmitted,
      this.graphsFinished,
      this.tokens,
      this.anomalies,
    ];
  }

  /** Claims whose end this instance still waits for (for tests and the report of its memory). */
  get openClaims(): number {
    return this.#openClaims.size;
  }

  /** Counts what a batch of applied events changed. */
  observe(events: readonly RecordedWithAnomaly[]): void {
    for (const recorded of events) {
      if (recorded.anomaly !== null) {
        this.anomalies.inc({ type: recorded.event.type, anomaly: recorded.anomaly });
        continue;
      }
      this.#observeOne(recorded.event, recorded.seq);
    }
  }

  #observeOne(event: DomainEvent, seq: number): void {
    switch (event.type) {
      case 'TaskProgressed':
      case 'TaskLeaseExtended':
        return;
      case 'TaskClaimed': {
        const kind = kindOf(event.taskId);
        this.#claimsByKind[kind].inc();
        const claimedAt = Date.parse(event.at);
        this.#remember(seq, claimedAt);
        const task =
          event.graphId === undefined ? undefined : this.#taskState(event.graphId, event.taskId ?? '');
        // A task READY again later in the same batch no longer holds the time this claim waited from.
        if (task !== undefined && task.readySeq < seq) {
          this.#waitByKind[kind].observe(Math.max(0, claimedAt - task.availableAt) / 1000);
        }
        return;
      }
      case 'TaskCompleted': {
        const kind = kindOf(event.taskId);
        this.results.inc({ kind, status: 'completed' });
        this.#ended(event.data.claimToken, event.at, kind, 'completed');
        const { usage, model } = event.data.result;
        if (usage) this.#tokens(kind === 'synthesis' ? 'synthesis' : 'worker', model, usage);
        return;
      }
      case 'TaskAttemptFailed': {
        const kind = kindOf(event.taskId);
        this.results.inc({ kind, status: 'failed_retryable' });
        this.#ended(event.data.claimToken, event.at, kind, 'failed');
        return;
      }
      case 'TaskFailed': {
        const kind = kindOf(event.taskId);
        this.tasksFailed.inc({ kind, reason: event.data.reason });
        const token = event.data.claimToken;
        if (event.data.decidedBy === 'holder') {
          this.results.inc({ kind, status: 'failed' });
          if (token !== null) this.#ended(token, event.at, kind, 'failed');
        } else if (token !== null) {
          // The manager failed it because the last attempt's lease or timeout ran out.
          this.leaseExpiries.inc({
            reason: event.data.error.code === 'timeout' ? 'timeout' : 'lease_expired',
          });
          this.#openClaims.delete(Number(token));
        }
        return;
      }
      case 'TaskLeaseExpired':
        this.leaseExpiries.inc({ reason: event.data.reason });
        this.#openClaims.delete(Number(event.data.claimToken));
        return;
      case 'TaskReleased':
        this.releases.inc();
        this.#openClaims.delete(Number(event.data.claimToken));
        return;
      case 'GraphSubmitted':
        this.graphsSubmitted.inc();
        return;
      case 'GraphPlanned':
        if (event.data.usage) this.#tokens('planner', event.data.planner, event.data.usage);
        return;
      case 'AuditPassed':
      case 'AuditFailed': {
        const { report } = event.data;
        this.audits.inc({ outcome: event.type === 'AuditPassed' ? 'passed' : 'failed' });
        if (event.type === 'AuditFailed' && event.data.rework.length > 0) {
          this.reworkCycles.inc();
          this.reworkedTasks.inc(event.data.rework.length);
        }
        if (report.usage) this.#tokens('auditor', report.model, report.usage);
        return;
      }
      case 'GraphSucceeded':
        this.graphsFinished.inc({ status: 'succeeded', reason: 'none' });
        return;
      case 'GraphFailed':
        this.graphsFinished.inc({ status: 'failed', reason: event.data.reason });
        return;
      case 'GraphCancelled':
        this.graphsFinished.inc({ status: 'cancelled', reason: 'none' });
        return;
      case 'TaskCancelled':
      case 'PlanningStarted':
      case 'GraphPlanningFailed':
      case 'GraphCompleted':
      case 'AuditStarted':
      case 'GraphRetried':
      case 'AgentRegistered':
      case 'AgentCredentialsRotated':
      case 'AgentRevoked':
        return;
      default: {
        const unreachable: never = event;
        throw new Error(`unhandled event ${(unreachable as DomainEvent).type}`);
      }
    }
  }

  #remember(token: number, claimedAt: number): void {
    this.#openClaims.set(token, claimedAt);
    if (this.#openClaims.size > this.#maxOpenClaims) {
      // Insertion order is claim order: forget the oldest.
      const oldest = this.#openClaims.keys().next().value;
      if (oldest !== undefined) this.#openClaims.delete(oldest);
    }
  }

  #ended(token: string, at: string, kind: TaskKind, outcome: 'completed' | 'failed'): void {
    const key = Number(token);
    const claimedAt = this.#openClaims.get(key);
    // A claim made before this node observed the stream has no start here: no sample rather than a wrong one.
    if (claimedAt === undefined) return;
    this.#openClaims.delete(key);
    this.taskRun.observe({ kind, outcome }, Math.max(0, Date.parse(at) - claimedAt) / 1000);
  }

  #tokens(role: string, model: string | undefined, usage: Usage): void {
    const label = this.#modelLabel(model);
    this.tokens.inc({ role, model: label, kind: 'prompt' }, usage.promptTokens);
    this.tokens.inc({ role, model: label, kind: 'completion' }, usage.completionTokens);
  }

  #modelLabel(model: string | undefined): string {
    if (model === undefined || model === '') return 'unknown';
    if (this.#models.has(model)) return model;
    if (this.#models.size >= this.#maxModels) return 'other';
    this.#models.add(model);
    return model;
  }
}

function kindOf(taskId: string | undefined): TaskKind {
  return taskId === SYNTHESIS_TASK_ID ? 'synthesis' : 'work';
}
