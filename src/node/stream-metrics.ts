import type { Metric } from 'prom-client';
import type { DomainEvent, RecordedEvent } from '../events/index.ts';
import { SYNTHESIS_TASK_ID, type TaskKind, type Usage } from '../protocol/index.ts';
import { type CounterSlot, type HistogramSlot, TallyCounter, TallyHistogram } from './tally.ts';

/**
 * What a claim's figures are read from (the task's aggregate state after the batch): when it became READY
 * (or its backoff ended) and at which sequence, and its current claim.
 */
export interface ClaimedTaskTimes {
  availableAt: number;
  readySeq: number;
  claim: { token: string; claimedAt: number } | null;
}

export interface StreamMetricsOptions {
  /** The task as the read model holds it after the batch (the projector's graph aggregate). */
  taskState: (graphId: string, taskId: string) => ClaimedTaskTimes | undefined;
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

/** The slots every claim and result of one kind adds to, bound once. */
interface KindSlots {
  claims: CounterSlot;
  wait: HistogramSlot;
  completed: CounterSlot;
  failedRetryable: CounterSlot;
  failed: CounterSlot;
  runCompleted: HistogramSlot;
  runFailed: HistogramSlot;
}

/**
 * Metrics derived from the events this node's projector applied: what happened to tasks and graphs in the
 * stream, whoever appended it. Every server of a cluster applies the same stream, so these series are the
 * same on each (aggregate with max, not sum). Times come from the events (`at`), not from this node's
 * clock. The metrics belong to no registry: the process that serves /metrics registers `all()`.
 *
 * Label values are bounded: kinds, statuses, reasons, event types and anomalies are enums; models are
 * capped (`maxModels`). No graph, task or agent id is ever a label. The hot events (claims, results) add
 * to slots bound up front (see tally.ts): nothing is allocated for them but a claim's entry in `openClaims`.
 */
export class StreamMetrics {
  readonly taskRun = new TallyHistogram(
    'am_task_run_seconds',
    'Claim to result (TaskClaimed to TaskCompleted, TaskAttemptFailed or a holder TaskFailed), by kind and outcome',
    ['kind', 'outcome'],
    RUN_BUCKETS,
  );
  readonly queueWait = new TallyHistogram(
    'am_task_queue_wait_seconds',
    'READY (or the end of its retry backoff) to TaskClaimed, by kind',
    ['kind'],
    WAIT_BUCKETS,
  );
  readonly claims = new TallyCounter(
    'am_task_claims_total',
    'Claims the stream accepted (TaskClaimed that took effect), by kind',
    ['kind'],
  );
  readonly results = new TallyCounter(
    'am_task_results_total',
    'Results workers submitted that took effect, by kind and status (completed, failed_retryable, failed)',
    ['kind', 'status'],
  );
  readonly tasksFailed = new TallyCounter(
    'am_tasks_failed_total',
    'Tasks failed for good in their cycle (TaskFailed), by kind and reason',
    ['kind', 'reason'],
  );
  readonly leaseExpiries = new TallyCounter(
    'am_task_lease_expiries_total',
    'Claims taken back by the manager (lease_expired or timeout), the last attempt included',
    ['reason'],
  );
  readonly releases = new TallyCounter(
    'am_task_releases_total',
    'Claims given back by their holder (TaskReleased)',
    [],
  );
  readonly audits = new TallyCounter('am_audits_total', 'Audit outcomes (passed, failed)', ['outcome']);
  readonly reworkCycles = new TallyCounter(
    'am_rework_cycles_total',
    'Failed audits that sent tasks back for another cycle',
    [],
  );
  readonly reworkedTasks = new TallyCounter(
    'am_reworked_tasks_total',
    'Tasks sent back by failed audits (those named and their dependents)',
    [],
  );
  readonly graphsSubmitted = new TallyCounter('am_graphs_submitted_total', 'Graphs submitted', []);
  readonly graphsFinished = new TallyCounter(
    'am_graphs_finished_total',
    'Graphs that ended, by status (succeeded, failed, cancelled) and failure reason (none unless failed)',
    ['status', 'reason'],
  );
  readonly tokens = new TallyCounter(
    'am_result_tokens_total',
    'Tokens recorded in the stream (results, plans, audit reports), by role, model and kind (prompt, completion)',
    ['role', 'model', 'kind'],
  );
  readonly anomalies = new TallyCounter(
    'am_stream_anomalies_total',
    'Events recorded with no effect by rule (void claims, stale results, …), by event type and anomaly',
    ['type', 'anomaly'],
  );

  readonly #taskState: StreamMetricsOptions['taskState'];
  readonly #maxModels: number;
  readonly #maxOpenClaims: number;
  readonly #models = new Set<string>();
  /** Claim token (the TaskClaimed sequence) → claim time (ms), until the claim ends. */
  readonly #openClaims = new Map<number, number>();
  readonly #byKind: Record<TaskKind, KindSlots>;
  /** role → model label → the token slots. */
  readonly #tokenSlots = new Map<string, Map<string, { prompt: CounterSlot; completion: CounterSlot }>>();
  readonly #graphsSubmitted = this.graphsSubmitted.slot();
  readonly #releases = this.releases.slot();

  constructor(opts: StreamMetricsOptions) {
    this.#taskState = opts.taskState;
    this.#maxModels = opts.maxModels ?? 50;
    this.#maxOpenClaims = opts.maxOpenClaims ?? 100_000;
    this.#byKind = { work: this.#bind('work'), synthesis: this.#bind('synthesis') };
  }

  #bind(kind: TaskKind): KindSlots {
    return {
      claims: this.claims.slot(kind),
      wait: this.queueWait.slot(kind),
      completed: this.results.slot(kind, 'completed'),
      failedRetryable: this.results.slot(kind, 'failed_retryable'),
      failed: this.results.slot(kind, 'failed'),
      runCompleted: this.taskRun.slot(kind, 'completed'),
      runFailed: this.taskRun.slot(kind, 'failed'),
    };
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
    ].map((tally) => tally.asMetric());
  }

  /** Claims whose end this instance still waits for (for tests and the report of its memory). */
  get openClaims(): number {
    return this.#openClaims.size;
  }

  /** Counts what a batch of applied events changed. */
  observe(events: readonly RecordedWithAnomaly[]): void {
    for (const recorded of events) {
      if (recorded.anomaly !== null) {
        this.anomalies.inc([recorded.event.type, recorded.anomaly]);
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
        const slots = this.#byKind[kindOf(event.taskId)];
        slots.claims.value += 1;
        const task =
          event.graphId === undefined || event.taskId === undefined
            ? undefined
            : this.#taskState(event.graphId, event.taskId);
        // The fold parsed the claim time already while the task is still held by this claim.
        const claim = task?.claim;
        const claimedAt =
          claim != null && Number(claim.token) === seq ? claim.claimedAt : Date.parse(event.at);
        this.#remember(seq, claimedAt);
        // A task READY again later in the same batch no longer holds the time this claim waited from.
        if (task !== undefined && task.readySeq < seq) {
          this.queueWait.observe(slots.wait, Math.max(0, claimedAt - task.availableAt) / 1000);
        }
        return;
      }
      case 'TaskCompleted': {
        const kind = kindOf(event.taskId);
        const slots = this.#byKind[kind];
        slots.completed.value += 1;
        this.#ended(event.data.claimToken, event.at, slots.runCompleted);
        const { usage, model } = event.data.result;
        if (usage) this.#tokens(kind === 'synthesis' ? 'synthesis' : 'worker', model, usage);
        return;
      }
      case 'TaskAttemptFailed': {
        const slots = this.#byKind[kindOf(event.taskId)];
        slots.failedRetryable.value += 1;
        this.#ended(event.data.claimToken, event.at, slots.runFailed);
        return;
      }
      case 'TaskFailed': {
        const kind = kindOf(event.taskId);
        this.tasksFailed.inc([kind, event.data.reason]);
        const token = event.data.claimToken;
        if (event.data.decidedBy === 'holder') {
          const slots = this.#byKind[kind];
          slots.failed.value += 1;
          if (token !== null) this.#ended(token, event.at, slots.runFailed);
        } else if (token !== null) {
          // The manager failed it because the last attempt's lease or timeout ran out.
          this.leaseExpiries.inc([event.data.error.code === 'timeout' ? 'timeout' : 'lease_expired']);
          this.#openClaims.delete(Number(token));
        }
        return;
      }
      case 'TaskLeaseExpired':
        this.leaseExpiries.inc([event.data.reason]);
        this.#openClaims.delete(Number(event.data.claimToken));
        return;
      case 'TaskReleased':
        this.#releases.value += 1;
        this.#openClaims.delete(Number(event.data.claimToken));
        return;
      case 'GraphSubmitted':
        this.#graphsSubmitted.value += 1;
        return;
      case 'GraphPlanned':
        if (event.data.usage) this.#tokens('planner', event.data.planner, event.data.usage);
        return;
      case 'AuditPassed':
      case 'AuditFailed': {
        const { report } = event.data;
        this.audits.inc([event.type === 'AuditPassed' ? 'passed' : 'failed']);
        if (event.type === 'AuditFailed' && event.data.rework.length > 0) {
          this.reworkCycles.inc([]);
          this.reworkedTasks.inc([], event.data.rework.length);
        }
        if (report.usage) this.#tokens('auditor', report.model, report.usage);
        return;
      }
      case 'GraphSucceeded':
        this.graphsFinished.inc(['succeeded', 'none']);
        return;
      case 'GraphFailed':
        this.graphsFinished.inc(['failed', event.data.reason]);
        return;
      case 'GraphCancelled':
        this.graphsFinished.inc(['cancelled', 'none']);
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

  #ended(token: string, at: string, run: HistogramSlot): void {
    const key = Number(token);
    const claimedAt = this.#openClaims.get(key);
    // A claim made before this node observed the stream has no start here: no sample rather than a wrong one.
    if (claimedAt === undefined) return;
    this.#openClaims.delete(key);
    this.taskRun.observe(run, Math.max(0, Date.parse(at) - claimedAt) / 1000);
  }

  #tokens(role: string, model: string | undefined, usage: Usage): void {
    const label = this.#modelLabel(model);
    let byModel = this.#tokenSlots.get(role);
    if (byModel === undefined) {
      byModel = new Map();
      this.#tokenSlots.set(role, byModel);
    }
    let slots = byModel.get(label);
    if (slots === undefined) {
      slots = {
        prompt: this.tokens.slot(role, label, 'prompt'),
        completion: this.tokens.slot(role, label, 'completion'),
      };
      byModel.set(label, slots);
    }
    slots.prompt.value += usage.promptTokens;
    slots.completion.value += usage.completionTokens;
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
