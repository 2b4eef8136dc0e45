import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterAll, describe, expect, it } from 'vitest';
import { installTracing, uninstallTracing } from '../../../src/node/tracing-setup.ts';
import { HttpTransport } from '../../../src/worker/http-transport.ts';
import { createWorker, type Worker } from '../../../src/worker/worker.ts';
import { httpCall, startTestHttpApi, type TestHttpApi, waitUntil } from '../../kit/index.ts';

const ADMIN = 'tracing-test-admin-token-0123456789';

interface TrailEvent {
  type: string;
  traceparent?: string;
}

/**
 * One task's trip, submit → claim → worker → result, over HTTP with the worker SDK in this process: with a
 * provider installed its spans form one trace; without one no traceparent reaches the stream.
 */
describe('tracing (issue 15): one trace per graph, nothing when off', () => {
  const running: { api?: TestHttpApi; worker?: Worker } = {};

  afterAll(async () => {
    await running.worker?.stop();
    await running.api?.cleanup();
    uninstallTracing();
  });

  /** Starts a server, submits a 1-task graph, runs it with a worker that reports one step; the trail. */
  async function runOneTask(): Promise<{ graphId: string; trail: TrailEvent[] }> {
    const api = await startTestHttpApi({ adminToken: ADMIN });
    running.api = api;
    const call = httpCall(() => api.url);
    const registered = await call('POST', '/v1/agents', ADMIN, { agentId: 'w-trace', role: 'worker' });
    expect(registered.status).toBe(201);
    const submitted = await call('POST', '/v1/tasks', ADMIN, {
      goal: 'traced',
      tasks: [{ id: 'only', title: 'Only task', instructions: 'say hi' }],
    });
    expect(submitted.status).toBe(202);
    const graphId = String(submitted.body.graphId);
    const completed: string[] = [];
    const worker = createWorker(
      {
        execute: async ({ onStep }) => {
          onStep({ thought: 'look', action: { type: 'final', answer: 'hi' } });
          return {
            status: 'completed',
            output: 'hi',
            history: [{ thought: 'look', action: { type: 'final', answer: 'hi' } }],
          };
        },
      },
      {
        transport: new HttpTransport({ serverUrl: api.url, token: String(registered.body.token) }),
        claimWaitMs: 1_000,
        onEvent: (event) => {
          if (event.type === 'completed') completed.push(event.task.id);
        },
      },
    );
    running.worker = worker;
    worker.start();
    await waitUntil(() => completed.length === 1, { timeoutMs: 10_000, message: 'the task completed' });
    await worker.stop();
    running.worker = undefined;
    // Read from the stream itself: the API's trail shows no metadata.
    const entries = await api.node.ctx.store.readTrail(graphId, { limit: 100 });
    const trail = entries.map(
      (entry): TrailEvent => ('error' in entry ? { type: 'Unreadable' } : entry.event),
    );
    await api.cleanup();
    running.api = undefined;
    return { graphId, trail };
  }

  it('off (no provider): no event carries a traceparent', async () => {
    const { trail } = await runOneTask();
    expect(trail.map((e) => e.type)).toContain('TaskCompleted');
    expect(trail.filter((e) => 'traceparent' in e)).toEqual([]);
  });

  it('on: submit, claim, the worker task and its step, progress and result form one trace', async () => {
    const exporter = new InMemorySpanExporter();
    installTracing(new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }));
    const { graphId, trail } = await runOneTask();
    const spans = exporter.getFinishedSpans();
    const one = (name: string): ReadableSpan => {
      const found = spans.filter((s) => s.name === name && s.attributes['am.graph_id'] === graphId);
      expect(found, name).toHaveLength(1);
      return found[0] as ReadableSpan;
    };
    const submit = one('am.PlanTask');
    const claim = one('am.task.claim');
    const task = one('am.worker.task');
    const progress = one('am.ReportProgress');
    const result = one('am.SubmitResult');
    const step = spans.find((s) => s.name === 'am.worker.step');
    expect(step).toBeDefined();

    const traceId = submit.spanContext().traceId;
    expect(submit.parentSpanContext).toBeUndefined();
    for (const span of [claim, task, step as ReadableSpan, progress, result]) {
      expect(span.spanContext().traceId, span.name).toBe(traceId);
    }
    const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
    expect(parentOf(claim)).toBe(submit.spanContext().spanId);
    expect(parentOf(task)).toBe(claim.spanContext().spanId);
    expect(parentOf(step as ReadableSpan)).toBe(task.spanContext().spanId);
    expect(parentOf(progress)).toBe(step?.spanContext().spanId);
    expect(parentOf(result)).toBe(task.spanContext().spanId);

    // The claim request's own span is in the worker's (poll) trace: linked, not a parent.
    const request = spans.find(
      (s) =>
        s.name === 'am.ClaimTask' && claim.links.some((l) => l.context.spanId === s.spanContext().spanId),
    );
    expect(request).toBeDefined();
    expect(request?.spanContext().traceId).not.toBe(traceId);

    // The graph's trace starts at its GraphSubmitted event's metadata.
    const submittedEvent = trail.find((e) => e.type === 'GraphSubmitted');
    expect(submittedEvent?.traceparent).toBe(
      `00-${traceId}-${submit.spanContext().spanId}-${submit.spanContext().traceFlags.toString(16).padStart(2, '0')}`,
    );
    // No outputs or secrets in attributes.
    for (const span of spans) {
      expect(JSON.stringify(span.attributes)).not.toMatch(/hi"|Bearer|token/);
    }
  });
});
