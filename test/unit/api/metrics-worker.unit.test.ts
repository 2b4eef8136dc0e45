import { describe, expect, it } from 'vitest';
import { WorkerMetrics } from '../../../src/api/http/metrics/worker-metrics.ts';
import { LlmMetrics } from '../../../src/node/llm-metrics.ts';
import { dashboardFamilies, parseExposition, seriesValue } from '../../int/api/metrics-exposition.ts';

const usage = { promptTokens: 30, completionTokens: 12 };

describe('WorkerMetrics and LlmMetrics: what a worker serves on --metrics-port', () => {
  it('counts model calls by role (synthesis its own) and model, timing only the answered ones', async () => {
    const llm = new LlmMetrics();
    const call = { role: 'worker', name: 'react_step', model: 'm', durationMs: 1_500, usage };
    llm.onCall({ ...call, outcome: 'ok' });
    llm.onCall({ ...call, outcome: 'invalid_output' });
    llm.onCall({
      ...call,
      outcome: 'server_error',
      durationMs: 90_000,
      usage: { promptTokens: 0, completionTokens: 0 },
    });
    llm.onCall({ ...call, name: 'synthesis', outcome: 'ok', durationMs: 250 });
    llm.onFailure({ role: 'auditor', name: 'audit_report', model: 'judge', code: 'AM_ERR_LLM_UNAVAILABLE' });
    const metrics = new WorkerMetrics({ llm });
    const families = parseExposition(await metrics.registry.metrics());
    expect(seriesValue(families, 'am_llm_calls_total', { role: 'worker', model: 'm', outcome: 'ok' })).toBe(
      1,
    );
    expect(seriesValue(families, 'am_llm_calls_total', { role: 'worker', outcome: 'invalid_output' })).toBe(
      1,
    );
    expect(seriesValue(families, 'am_llm_calls_total', { role: 'worker', outcome: 'server_error' })).toBe(1);
    expect(seriesValue(families, 'am_llm_calls_total', { role: 'synthesis', outcome: 'ok' })).toBe(1);
    expect(seriesValue(families, 'am_llm_call_duration_seconds_count', { role: 'worker' })).toBe(2);
    expect(seriesValue(families, 'am_llm_call_duration_seconds_sum', { role: 'worker' })).toBe(3);
    expect(seriesValue(families, 'am_llm_call_duration_seconds_sum', { role: 'synthesis' })).toBe(0.25);
    expect(seriesValue(families, 'am_llm_tokens_total', { role: 'worker', kind: 'prompt' })).toBe(60);
    expect(seriesValue(families, 'am_llm_tokens_total', { role: 'synthesis', kind: 'completion' })).toBe(12);
    expect(
      seriesValue(families, 'am_llm_errors_total', {
        role: 'auditor',
        model: 'judge',
        code: 'AM_ERR_LLM_UNAVAILABLE',
      }),
    ).toBe(1);
  });

  it('counts tasks by kind and outcome and times each from its claim, ignoring events about no task', async () => {
    let now = 0;
    const metrics = new WorkerMetrics({ llm: new LlmMetrics(), now: () => now });
    const work = { graphId: 'g', id: 'a', kind: 'work' };
    const synthesis = { graphId: 'g', id: '_synthesis', kind: 'synthesis' };
    metrics.onEvent({ type: 'claimed', task: work });
    now = 4_000;
    metrics.onEvent({ type: 'completed', task: work });
    metrics.onEvent({ type: 'claimed', task: synthesis });
    metrics.onEvent({ type: 'link' });
    now = 4_500;
    metrics.onEvent({ type: 'released', task: synthesis });
    metrics.onEvent({ type: 'failed', task: work }); // its claim was never seen: counted, not timed
    const families = parseExposition(await metrics.registry.metrics());
    expect(seriesValue(families, 'am_worker_tasks_total', { kind: 'work', outcome: 'completed' })).toBe(1);
    expect(seriesValue(families, 'am_worker_tasks_total', { kind: 'work', outcome: 'failed' })).toBe(1);
    expect(seriesValue(families, 'am_worker_tasks_total', { kind: 'synthesis', outcome: 'released' })).toBe(
      1,
    );
    expect(
      seriesValue(families, 'am_worker_task_run_seconds_sum', { kind: 'work', outcome: 'completed' }),
    ).toBe(4);
    expect(
      seriesValue(families, 'am_worker_task_run_seconds_count', { kind: 'work', outcome: 'failed' }),
    ).toBe(0);
    expect(seriesValue(families, 'am_worker_task_run_seconds_sum', { kind: 'synthesis' })).toBe(0.5);
    // The process's own series are there too, and every worker series the Grafana dashboard queries.
    expect(families.has('am_process_cpu_seconds_total')).toBe(true);
    const queried = dashboardFamilies().filter((name) => name.startsWith('am_worker_'));
    expect(queried.length).toBeGreaterThan(0);
    for (const name of queried) expect(families.has(name), name).toBe(true);
  });
});
