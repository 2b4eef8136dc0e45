import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import type { FastifyInstance } from 'fastify';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgents } from '../../../src/agents/index.ts';
import { buildApp } from '../../../src/api/http/app.ts';
import { type Manager, managerAgents, startManager } from '../../../src/manager/index.ts';
import { type AppNode, startAppNode } from '../../../src/node/app-node.ts';
import { LlmMetrics } from '../../../src/node/llm-metrics.ts';
import type { ClaimReply, TaskGraph } from '../../../src/protocol/index.ts';
import { connectNats } from '../../../src/store/connect.ts';
import {
  type FakeOpenAiServer,
  jsonReply,
  startFakeOpenAiServer,
} from '../../fixtures/fake-openai-server.ts';
import { httpCall, makeTempDir, startTestNats, type TestNats, waitUntil } from '../../kit/index.ts';
import { dashboardFamilies, type Family, parseExposition, seriesValue } from './metrics-exposition.ts';

const ADMIN = 'metrics-test-admin-token-0123456789';

/** One server: a node (its own read model) and its HTTP app on a real port. */
interface Server {
  node: AppNode;
  app: FastifyInstance;
  url: string;
}

describe('/metrics over a real nats-server: a workload moves the series it should', () => {
  let nats: TestNats;
  const connections: NatsConnection[] = [];
  const servers: Server[] = [];
  let fake: FakeOpenAiServer;
  let manager: Manager;
  let main: Server;
  let worker: string;
  const llmMetrics = new LlmMetrics();
  const dir = makeTempDir('am-metrics');
  const call = httpCall(() => main.url);
  /** Model calls by request name, to script each role's replies in order. */
  const calls = new Map<string, number>();

  async function startServer(name: string, llm?: LlmMetrics): Promise<Server> {
    const nc = await connectNats({ servers: nats.url });
    connections.push(nc);
    const node = await startAppNode({
      nc,
      store: nats.settings,
      dbPath: join(dir, `${name}.sqlite`),
      adminToken: ADMIN,
      ...(llm === undefined ? {} : { llmMetrics: llm }),
    });
    const app = await buildApp({ ctx: node.ctx });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const server = { node, app, url };
    servers.push(server);
    return server;
  }

  async function scrape(server: Server): Promise<Map<string, Family>> {
    const response = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    return parseExposition(await response.text());
  }

  const claim = async (waitMs = 10_000): Promise<ClaimReply> => {
    const reply = await call('POST', '/v1/tasks/claim', worker, { requestId: uuidv7(), waitMs });
    expect(reply.status).toBe(200);
    return reply.body as unknown as ClaimReply;
  };
  const complete = async (c: ClaimReply, usage?: { promptTokens: number; completionTokens: number }) => {
    const reply = await call('POST', '/v1/results', worker, {
      graphId: c.task.graphId,
      taskId: c.task.id,
      claimToken: c.claimToken,
      status: 'completed',
      output: `did ${c.task.id}`,
      history: [{ thought: 'ok', action: { type: 'final', answer: 'ok' } }],
      ...(usage === undefined
        ? {}
        : {
            usage: { ...usage, totalTokens: usage.promptTokens + usage.completionTokens },
            model: 'worker-model',
          }),
    });
    expect(reply.status).toBe(202);
  };
  const graph = async (graphId: string) =>
    (await call('GET', `/v1/graphs/${graphId}`, ADMIN)).body as unknown as TaskGraph;

  beforeAll(async () => {
    nats = await startTestNats();
    fake = await startFakeOpenAiServer();
    // The auditor: unavailable once (a 500, no retries), then fails the cycle naming b, then passes it.
    // The planner: an answer that is not JSON (a corrective call follows), then a plan.
    fake.setFallback((request) => {
      const name = request.body?.response_format?.json_schema?.name ?? '';
      const n = (calls.get(name) ?? 0) + 1;
      calls.set(name, n);
      if (name === 'audit_report') {
        if (n === 1) return { status: 500, body: { error: { message: 'the model is down' } } };
        const passed = n > 2;
        return jsonReply(
          {
            passed,
            score: passed ? 0.9 : 0.3,
            summary: passed ? 'good' : 'b is thin',
            findings: [],
            rework_suggestions: passed ? [] : [{ taskId: 'b', problem: 'thin', suggestion: 'more' }],
          },
          passed ? { prompt_tokens: 20, completion_tokens: 4 } : { prompt_tokens: 50, completion_tokens: 10 },
        );
      }
      if (name === 'plan') {
        if (n === 1) return { content: 'not json at all', usage: { prompt_tokens: 7, completion_tokens: 1 } };
        return jsonReply(
          { tasks: [{ id: 'p1', title: 'P1', instructions: 'do', dependsOn: [] }] },
          { prompt_tokens: 9, completion_tokens: 3 },
        );
      }
      return { status: 400, body: { error: { message: `unscripted ${name}` } } };
    });
    main = await startServer('main', llmMetrics);
    const agents = createAgents({
      provider: 'openai',
      llm: {
        baseURL: fake.baseURL,
        models: { planner: 'plan-model', auditor: 'audit-model' },
        maxRetries: 0,
        observer: llmMetrics,
      },
    });
    manager = startManager({
      ctx: main.node.ctx,
      agents: managerAgents(agents),
      intervalMs: 100,
      graceMs: 0,
      markerMs: 5_000,
      llmRetryBaseMs: 50,
    });
    const registered = await call('POST', '/v1/agents', ADMIN, { agentId: 'w-metrics', role: 'worker' });
    expect(registered.status).toBe(201);
    worker = String(registered.body.token);
  });

  afterAll(async () => {
    await manager?.stop();
    for (const server of servers.reverse()) {
      await server.app.close().catch(() => {});
      await server.node.close().catch(() => {});
    }
    for (const nc of connections) await nc.drain().catch(() => {});
    await fake?.close();
    await nats?.cleanup();
  });

  it('counts a lease expiry, a failed attempt, a failed audit with its rework, synthesis, tokens and model calls', async () => {
    const before = await scrape(main);
    const submitted = await call('POST', '/v1/tasks', ADMIN, {
      goal: 'two steps',
      tasks: [
        { id: 'a', title: 'A', instructions: 'first' },
        { id: 'b', title: 'B', instructions: 'second', dependsOn: ['a'] },
      ],
      options: { leaseMs: 1_000, maxAttempts: 3, maxReworkCycles: 2 },
    });
    expect(submitted.status).toBe(202);
    const graphId = String(submitted.body.graphId);
    // The gauges read the read model: a READY, b and the synthesis PENDING (counts are reused for 1 s).
    await waitUntil(
      async () => {
        const now = await scrape(main);
        return (
          seriesValue(now, 'am_tasks', { status: 'READY' }) === 1 &&
          seriesValue(now, 'am_tasks', { status: 'PENDING' }) === 2 &&
          seriesValue(now, 'am_graphs', { status: 'RUNNING' }) === 1
        );
      },
      { message: 'am_tasks and am_graphs show the new graph' },
    );

    // a: claimed and left to its lease (1 s), which the manager takes back; claimed again after the backoff.
    const first = await claim();
    expect(first.task.id).toBe('a');
    const again = await claim();
    expect(again.task).toMatchObject({ id: 'a', attempt: 2 });
    await complete(again, { promptTokens: 11, completionTokens: 7 });
    // b: a retryable failure, then done after the backoff.
    const b1 = await claim();
    expect(b1.task.id).toBe('b');
    const failed = await call('POST', '/v1/results', worker, {
      graphId,
      taskId: 'b',
      claimToken: b1.claimToken,
      status: 'failed',
      history: [],
      error: { message: 'flaky', retryable: true },
    });
    expect(failed.status).toBe(202);
    const b2 = await claim();
    expect(b2.task).toMatchObject({ id: 'b', attempt: 2 });
    await complete(b2, { promptTokens: 5, completionTokens: 3 });
    // The audit: unavailable once, then failed naming b, which is worked again; the next audit passes.
    const b3 = await claim(20_000);
    expect(b3.task).toMatchObject({ id: 'b', cycle: 2 });
    await complete(b3, { promptTokens: 2, completionTokens: 1 });
    const synthesis = await claim(20_000);
    expect(synthesis.task.id).toBe('_synthesis');
    await complete(synthesis);
    await waitUntil(async () => (await graph(graphId)).graph.status === 'SUCCEEDED', {
      timeoutMs: 20_000,
      message: 'the graph succeeds',
    });

    // A goal-only graph: the planner's first answer is not JSON, the corrective call gives a plan.
    const goal = await call('POST', '/v1/tasks', ADMIN, { goal: 'plan me' });
    const plannedId = String(goal.body.graphId);
    await waitUntil(async () => (await graph(plannedId)).graph.status === 'RUNNING', {
      timeoutMs: 20_000,
      message: 'the planner plans',
    });
    expect((await call('POST', `/v1/graphs/${plannedId}/cancel`, ADMIN, {})).status).toBe(202);
    await waitUntil(async () => (await graph(plannedId)).graph.status === 'CANCELLED', {
      message: 'cancelled',
    });

    let after = await scrape(main);
    await waitUntil(
      async () => {
        after = await scrape(main);
        return seriesValue(after, 'am_graphs', { status: 'CANCELLED' }) === 1;
      },
      { message: 'am_graphs counts the cancelled graph' },
    );
    const delta = (name: string, labels: Record<string, string> = {}) =>
      seriesValue(after, name, labels) - seriesValue(before, name, labels);

    // Read-model gauges: every status reported, zero included.
    expect(seriesValue(after, 'am_graphs', { status: 'SUCCEEDED' })).toBe(1);
    expect(after.get('am_graphs')?.samples).toHaveLength(8);
    expect(after.get('am_tasks')?.samples).toHaveLength(6);
    expect(seriesValue(after, 'am_tasks')).toBe(0); // no graph left unfinished
    expect(seriesValue(after, 'am_ready')).toBe(1);
    expect(after.get('am_projection_lag_events')?.type).toBe('gauge');
    expect(after.get('am_projection_lag_seconds')?.type).toBe('gauge');
    expect(seriesValue(after, 'am_stream_seq')).toBeGreaterThanOrEqual(
      seriesValue(after, 'am_projection_applied_seq'),
    );

    // Stream-derived series.
    expect(delta('am_graphs_submitted_total')).toBe(2);
    expect(delta('am_graphs_finished_total', { status: 'succeeded', reason: 'none' })).toBe(1);
    expect(delta('am_graphs_finished_total', { status: 'cancelled', reason: 'none' })).toBe(1);
    expect(delta('am_task_claims_total', { kind: 'work' })).toBe(5);
    expect(delta('am_task_claims_total', { kind: 'synthesis' })).toBe(1);
    expect(delta('am_task_lease_expiries_total', { reason: 'lease_expired' })).toBe(1);
    expect(delta('am_task_results_total', { kind: 'work', status: 'completed' })).toBe(3);
    expect(delta('am_task_results_total', { kind: 'work', status: 'failed_retryable' })).toBe(1);
    expect(delta('am_task_results_total', { kind: 'synthesis', status: 'completed' })).toBe(1);
    expect(delta('am_task_queue_wait_seconds_count', { kind: 'work' })).toBe(5);
    expect(delta('am_task_queue_wait_seconds_count', { kind: 'synthesis' })).toBe(1);
    expect(delta('am_task_run_seconds_count', { kind: 'work', outcome: 'completed' })).toBe(3);
    expect(delta('am_task_run_seconds_count', { kind: 'work', outcome: 'failed' })).toBe(1);
    expect(delta('am_task_run_seconds_count', { kind: 'synthesis', outcome: 'completed' })).toBe(1);
    expect(delta('am_audits_total', { outcome: 'failed' })).toBe(1);
    expect(delta('am_audits_total', { outcome: 'passed' })).toBe(1);
    expect(delta('am_rework_cycles_total')).toBe(1);
    expect(delta('am_reworked_tasks_total')).toBe(1);
    const tokens = (role: string, model: string, kind: string) =>
      delta('am_result_tokens_total', { role, model, kind });
    expect(tokens('worker', 'worker-model', 'prompt')).toBe(18);
    expect(tokens('worker', 'worker-model', 'completion')).toBe(11);
    expect(tokens('auditor', 'audit-model', 'prompt')).toBe(70);
    expect(tokens('planner', 'plan-model', 'prompt')).toBe(16);
    expect(tokens('planner', 'plan-model', 'completion')).toBe(4);

    // This process's model calls (the manager's planner and auditor).
    const llm = (labels: Record<string, string>) => delta('am_llm_calls_total', labels);
    expect(llm({ role: 'auditor', model: 'audit-model', outcome: 'server_error' })).toBe(1);
    expect(llm({ role: 'auditor', model: 'audit-model', outcome: 'ok' })).toBe(2);
    expect(llm({ role: 'planner', model: 'plan-model', outcome: 'invalid_output' })).toBe(1);
    expect(llm({ role: 'planner', model: 'plan-model', outcome: 'ok' })).toBe(1);
    expect(delta('am_llm_errors_total', { role: 'auditor', code: 'AM_ERR_LLM_UNAVAILABLE' })).toBe(1);
    expect(delta('am_llm_tokens_total', { role: 'planner', kind: 'prompt' })).toBe(16);
    expect(delta('am_llm_tokens_total', { role: 'auditor', kind: 'completion' })).toBe(14);
    expect(delta('am_llm_call_duration_seconds_count', { role: 'auditor' })).toBe(2);
    expect(delta('am_llm_call_duration_seconds_count', { role: 'planner' })).toBe(2);

    // Every server series the Grafana dashboard queries exists (the worker's are checked by the worker's test).
    for (const name of dashboardFamilies().filter((n) => !n.startsWith('am_worker_'))) {
      expect(after.has(name), name).toBe(true);
    }

    // Per-process claim tallies and HTTP.
    expect(delta('am_claims_total', { outcome: 'claimed' })).toBe(6);
    expect(delta('am_claims_appended_total')).toBe(6);
    expect(delta('am_http_request_duration_seconds_count', { route: '/v1/tasks/claim' })).toBe(6);
  });

  it('does not count what a new node replays to catch up, and counts what follows as the first node does', async () => {
    const late = await startServer('late');
    const caughtUp = await scrape(late);
    // The read model has the history…
    expect(seriesValue(caughtUp, 'am_graphs', { status: 'SUCCEEDED' })).toBe(1);
    // …the counters do not: it was history when this node started.
    expect(seriesValue(caughtUp, 'am_graphs_submitted_total')).toBe(0);
    expect(seriesValue(caughtUp, 'am_task_claims_total')).toBe(0);
    const mainBefore = seriesValue(await scrape(main), 'am_graphs_submitted_total');

    const submitted = await call('POST', '/v1/tasks', ADMIN, {
      goal: 'seen by both',
      tasks: [{ id: 'x', title: 'X', instructions: '' }],
    });
    expect(submitted.status).toBe(202);
    await waitUntil(async () => seriesValue(await scrape(late), 'am_graphs_submitted_total') === 1, {
      message: 'the late node counts the new graph',
    });
    expect(seriesValue(await scrape(main), 'am_graphs_submitted_total')).toBe(mainBefore + 1);
    // The LLM series of a node whose agents report elsewhere stay empty; the families are there.
    const lateNow = await scrape(late);
    expect(lateNow.get('am_llm_calls_total')?.type).toBe('counter');
    expect(seriesValue(lateNow, 'am_llm_calls_total')).toBe(0);
  });
});
