import { Registry } from 'prom-client';
import { v7 as uuidv7 } from 'uuid';
import { beforeEach, describe, expect, it } from 'vitest';
import { type EventDraft, evolveGraph, type GraphState, stamp } from '../../../src/events/index.ts';
import { StreamMetrics } from '../../../src/node/stream-metrics.ts';
import type { AuditReport, Usage } from '../../../src/protocol/index.ts';
import { parseExposition, seriesValue } from '../../int/api/metrics-exposition.ts';

const GRAPH = '0190a3c4-0000-7000-8000-000000000001';
const T0 = Date.parse('2026-03-01T12:00:00.000Z');

/** A graph folded with the real `evolveGraph`, each event then shown to StreamMetrics as the projector would. */
class Stream {
  state: GraphState | null = null;
  seq = 0;
  constructor(readonly metrics: StreamMetrics) {}

  /** Appends `draft` at T0 + `atMs`; returns its sequence (a claim's token). */
  add(draft: EventDraft, atMs: number): number {
    this.seq += 1;
    const event = stamp(draft, { now: T0 + atMs, actor: 'test', newId: uuidv7 });
    const recorded = { seq: this.seq, subject: 'unused', event };
    const { state, applied } = evolveGraph(this.state, recorded);
    this.state = state;
    this.metrics.observe([{ ...recorded, anomaly: applied.anomaly }]);
    return this.seq;
  }

  claim(taskId: string, atMs: number): number {
    return this.add(
      {
        type: 'TaskClaimed',
        graphId: GRAPH,
        taskId,
        data: { agentId: 'w1', requestId: uuidv7(), attempt: 1, cycle: 1, leaseUntil: T0 + atMs + 60_000 },
      },
      atMs,
    );
  }

  complete(taskId: string, token: number, atMs: number, extra: { usage?: Usage; model?: string } = {}): void {
    this.add(
      {
        type: 'TaskCompleted',
        graphId: GRAPH,
        taskId,
        data: { claimToken: String(token), result: { output: `did ${taskId}`, history: [], ...extra } },
      },
      atMs,
    );
  }

  graph(draft: EventDraft, atMs: number): void {
    this.add({ ...draft, graphId: GRAPH } as EventDraft, atMs);
  }
}

function report(passed: boolean, extra: Partial<AuditReport> = {}): AuditReport {
  return { passed, score: passed ? 1 : 0.2, summary: 's', findings: [], rework_suggestions: [], ...extra };
}

/** The value of one series (a counter's, or a histogram's `_count` / `_sum`). */
async function value(
  metric: { get(): Promise<{ name: string; values: unknown[] }> },
  labels: Record<string, string>,
  series = '',
): Promise<number> {
  const { name, values } = await metric.get();
  const wanted = name + series;
  // A histogram's values name their series (`metricName`); a counter's do not.
  const found = (values as Array<{ metricName?: string; labels: object; value: number }>).find(
    (v) =>
      (v.metricName ?? name) === wanted &&
      Object.entries(labels).every(
        ([key, val]) => String((v.labels as Record<string, unknown>)[key]) === val,
      ),
  );
  return found?.value ?? 0;
}

describe('StreamMetrics: what applied events count', () => {
  let metrics: StreamMetrics;
  let stream: Stream;

  beforeEach(() => {
    metrics = new StreamMetrics({
      taskState: (graphId, taskId) => (graphId === GRAPH ? stream.state?.tasks.get(taskId) : undefined),
      maxModels: 2,
    });
    stream = new Stream(metrics);
    stream.graph(
      {
        type: 'GraphSubmitted',
        data: {
          goal: 'g',
          tasks: [
            { id: 'a', title: 'A', instructions: 'x' },
            { id: 'b', title: 'B', instructions: 'y', dependsOn: ['a'] },
          ],
          options: { maxReworkCycles: 2, maxAttempts: 3, leaseMs: 60_000, priority: 0 },
          idempotencyKey: null,
        },
      },
      0,
    );
  });

  it('times a task from READY to its claim, and from its claim to its result, on the events own clock', async () => {
    const token = stream.claim('a', 2_000);
    stream.complete('a', token, 7_000, {
      usage: { promptTokens: 10, completionTokens: 4, totalTokens: 14 },
      model: 'm1',
    });

    expect(await value(metrics.graphsSubmitted, {})).toBe(1);
    expect(await value(metrics.claims, { kind: 'work' })).toBe(1);
    expect(await value(metrics.queueWait, { kind: 'work' }, '_count')).toBe(1);
    expect(await value(metrics.queueWait, { kind: 'work' }, '_sum')).toBe(2);
    expect(await value(metrics.taskRun, { kind: 'work', outcome: 'completed' }, '_sum')).toBe(5);
    expect(await value(metrics.results, { kind: 'work', status: 'completed' })).toBe(1);
    expect(await value(metrics.tokens, { role: 'worker', model: 'm1', kind: 'prompt' })).toBe(10);
    expect(await value(metrics.tokens, { role: 'worker', model: 'm1', kind: 'completion' })).toBe(4);
    expect(metrics.openClaims).toBe(0);
  });

  it('counts a lost lease without a run time, then a failed attempt with one, and waits from the backoff end', async () => {
    stream.complete('a', stream.claim('a', 1_000), 2_000);
    // b became READY at 2 s (its dependency completed).
    const first = stream.claim('b', 3_500);
    stream.add(
      {
        type: 'TaskLeaseExpired',
        graphId: GRAPH,
        taskId: 'b',
        data: { claimToken: String(first), reason: 'lease_expired', retryAt: T0 + 10_000 },
      },
      9_000,
    );
    expect(await value(metrics.leaseExpiries, { reason: 'lease_expired' })).toBe(1);
    expect(await value(metrics.taskRun, { kind: 'work', outcome: 'failed' }, '_count')).toBe(0);
    expect(metrics.openClaims).toBe(0);

    const second = stream.claim('b', 10_250);
    // Waits: a 1 s, b 1.5 s, then b again 0.25 s after its backoff ended.
    expect(await value(metrics.queueWait, { kind: 'work' }, '_count')).toBe(3);
    expect(await value(metrics.queueWait, { kind: 'work' }, '_sum')).toBeCloseTo(2.75, 6);
    stream.add(
      {
        type: 'TaskAttemptFailed',
        graphId: GRAPH,
        taskId: 'b',
        data: {
          claimToken: String(second),
          error: { message: 'boom', retryable: true },
          history: [],
          retryAt: T0 + 20_000,
        },
      },
      13_250,
    );
    expect(await value(metrics.results, { kind: 'work', status: 'failed_retryable' })).toBe(1);
    expect(await value(metrics.taskRun, { kind: 'work', outcome: 'failed' }, '_sum')).toBe(3);
  });

  it('counts the manager failing a last attempt as a lease expiry and a task failed for good', async () => {
    const token = stream.claim('a', 1_000);
    stream.add(
      {
        type: 'TaskFailed',
        graphId: GRAPH,
        taskId: 'a',
        data: {
          claimToken: String(token),
          reason: 'attempts_exhausted',
          decidedBy: 'manager',
          error: { message: 'the last attempt ran past its timeout', retryable: true, code: 'timeout' },
          history: [],
        },
      },
      5_000,
    );
    expect(await value(metrics.leaseExpiries, { reason: 'timeout' })).toBe(1);
    expect(await value(metrics.tasksFailed, { kind: 'work', reason: 'attempts_exhausted' })).toBe(1);
    // Not a result a worker submitted.
    expect(await value(metrics.results, { kind: 'work', status: 'failed' })).toBe(0);
    expect(metrics.openClaims).toBe(0);
  });

  it('counts a void claim and a stale result as anomalies, and nothing else of them', async () => {
    const token = stream.claim('a', 1_000);
    stream.claim('a', 1_001); // a is CLAIMED: void
    stream.complete('a', token + 100, 2_000); // not the current claim: stale
    expect(await value(metrics.anomalies, { type: 'TaskClaimed', anomaly: 'void_claim' })).toBe(1);
    expect(await value(metrics.anomalies, { type: 'TaskCompleted', anomaly: 'stale_claim' })).toBe(1);
    expect(await value(metrics.claims, { kind: 'work' })).toBe(1);
    expect(await value(metrics.results, { kind: 'work', status: 'completed' })).toBe(0);
  });

  it('counts audits, rework, synthesis and the graph outcome, with auditor and planner tokens by model', async () => {
    stream.complete('a', stream.claim('a', 1), 2);
    stream.complete('b', stream.claim('b', 3), 4);
    stream.graph({ type: 'GraphCompleted', data: { cycle: 1 } }, 5);
    const usage = { promptTokens: 100, completionTokens: 20, totalTokens: 120 };
    stream.graph(
      {
        type: 'AuditFailed',
        data: { cycle: 1, report: report(false, { usage, model: 'judge' }), rework: ['b'] },
      },
      6,
    );
    expect(await value(metrics.audits, { outcome: 'failed' })).toBe(1);
    expect(await value(metrics.reworkCycles, {})).toBe(1);
    expect(await value(metrics.reworkedTasks, {})).toBe(1);
    expect(await value(metrics.tokens, { role: 'auditor', model: 'judge', kind: 'prompt' })).toBe(100);

    stream.complete('b', stream.claim('b', 7), 8);
    stream.graph({ type: 'GraphCompleted', data: { cycle: 2 } }, 9);
    stream.graph({ type: 'AuditPassed', data: { cycle: 2, report: report(true) } }, 10);
    const synthesis = stream.claim('_synthesis', 1_010);
    // Two models are kept (m1 was not seen in this test: judge, then s1); a third is `other`.
    stream.complete('_synthesis', synthesis, 3_010, { usage, model: 's1' });
    stream.graph({ type: 'GraphSucceeded', data: { output: 'answer' } }, 3_011);
    expect(await value(metrics.audits, { outcome: 'passed' })).toBe(1);
    expect(await value(metrics.claims, { kind: 'synthesis' })).toBe(1);
    expect(await value(metrics.queueWait, { kind: 'synthesis' }, '_sum')).toBe(1);
    expect(await value(metrics.taskRun, { kind: 'synthesis', outcome: 'completed' }, '_sum')).toBe(2);
    expect(await value(metrics.tokens, { role: 'synthesis', model: 's1', kind: 'completion' })).toBe(20);
    expect(await value(metrics.graphsFinished, { status: 'succeeded', reason: 'none' })).toBe(1);
    expect(await value(metrics.results, { kind: 'work', status: 'completed' })).toBe(3);

    stream.graph(
      {
        type: 'GraphPlanned',
        data: { tasks: [{ id: 'z', title: 'Z', instructions: '' }], planner: 'p9', usage },
      },
      3_012,
    );
    expect(await value(metrics.anomalies, { type: 'GraphPlanned', anomaly: 'not_planning' })).toBe(1);
  });

  it('keeps at most maxModels model labels and counts the rest as other', async () => {
    const usage = { promptTokens: 1, completionTokens: 1, totalTokens: 2 };
    stream.complete('a', stream.claim('a', 1), 2, { usage, model: 'one' });
    stream.complete('b', stream.claim('b', 3), 4, { usage, model: 'two' });
    stream.graph({ type: 'GraphCompleted', data: { cycle: 1 } }, 5);
    stream.graph({ type: 'AuditFailed', data: { cycle: 1, report: report(false), rework: ['a', 'b'] } }, 6);
    stream.complete('a', stream.claim('a', 7), 8, { usage, model: 'three' });
    stream.complete('b', stream.claim('b', 9), 10);
    expect(await value(metrics.tokens, { role: 'worker', model: 'other', kind: 'prompt' })).toBe(1);
    expect(await value(metrics.tokens, { role: 'worker', model: 'three', kind: 'prompt' })).toBe(0);
    // A result without usage adds no tokens.
    const { values } = await metrics.tokens.get();
    expect(new Set(values.map((v) => v.labels.model))).toEqual(new Set(['one', 'two', 'other']));
  });

  it('gives no run time to a claim it did not see (made before the node observed the stream)', async () => {
    const unseen = new StreamMetrics({ taskState: () => undefined });
    const event = stamp(
      {
        type: 'TaskCompleted',
        graphId: GRAPH,
        taskId: 'a',
        data: { claimToken: '7', result: { output: 'x', history: [] } },
      },
      { now: T0, actor: 'test', newId: uuidv7 },
    );
    unseen.observe([{ seq: 9, subject: 's', event, anomaly: null }]);
    expect(await value(unseen.results, { kind: 'work', status: 'completed' })).toBe(1);
    expect(await value(unseen.taskRun, { kind: 'work', outcome: 'completed' }, '_count')).toBe(0);
  });

  it('reads as Prometheus text through a prom-client Registry, buckets cumulative', async () => {
    stream.complete('a', stream.claim('a', 1_000), 31_000);
    stream.add(
      { type: 'TaskReleased', graphId: GRAPH, taskId: 'b', data: { claimToken: '1', reason: null } },
      31_001,
    );
    const registry = new Registry();
    for (const metric of metrics.all()) registry.registerMetric(metric);
    const families = parseExposition(await registry.metrics());
    expect(families.get('am_task_run_seconds')?.type).toBe('histogram');
    expect(families.get('am_task_claims_total')?.type).toBe('counter');
    expect(
      seriesValue(families, 'am_task_run_seconds_bucket', { kind: 'work', outcome: 'completed', le: '10' }),
    ).toBe(0);
    expect(
      seriesValue(families, 'am_task_run_seconds_bucket', { kind: 'work', outcome: 'completed', le: '30' }),
    ).toBe(1);
    expect(
      seriesValue(families, 'am_task_run_seconds_bucket', { kind: 'work', outcome: 'completed', le: '+Inf' }),
    ).toBe(1);
    expect(seriesValue(families, 'am_task_queue_wait_seconds_bucket', { kind: 'work', le: '1' })).toBe(1);
    expect(seriesValue(families, 'am_task_queue_wait_seconds_bucket', { kind: 'work', le: '0.5' })).toBe(0);
    // Bound label sets are there from the start, at zero; a released claim of no task is an anomaly.
    expect(families.get('am_task_results_total')?.samples).toHaveLength(6);
    expect(seriesValue(families, 'am_stream_anomalies_total', { type: 'TaskReleased' })).toBe(1);
    registry.resetMetrics();
    expect(seriesValue(parseExposition(await registry.metrics()), 'am_task_claims_total')).toBe(0);
    stream.claim('b', 31_002);
    expect(seriesValue(parseExposition(await registry.metrics()), 'am_task_claims_total')).toBe(1);
  });

  it('forgets the oldest claims past maxOpenClaims (claims of cancelled graphs never end)', () => {
    const small = new StreamMetrics({ taskState: () => undefined, maxOpenClaims: 2 });
    for (let seq = 1; seq <= 5; seq++) {
      const event = stamp(
        {
          type: 'TaskClaimed',
          graphId: GRAPH,
          taskId: `t${seq}`,
          data: { agentId: 'w', requestId: `r${seq}`, attempt: 1, cycle: 1, leaseUntil: T0 },
        },
        { now: T0, actor: 'test', newId: uuidv7 },
      );
      small.observe([{ seq, subject: 's', event, anomaly: null }]);
    }
    expect(small.openClaims).toBe(2);
  });
});
