import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskGraph } from '../../src/protocol/index.ts';
import {
  type FakeOpenAiServer,
  jsonReply,
  type RecordedRequest,
  startFakeOpenAiServer,
} from '../fixtures/fake-openai-server.ts';
import { parseExposition, seriesValue } from '../int/api/metrics-exposition.ts';
import { freePort, makeTempDir, startTestNats, type TestNats } from '../kit/index.ts';
import {
  am,
  isTerminal,
  killAll,
  type Proc,
  type ServerProc,
  startServer,
  submitGraph,
  waitForGraph,
  workerConfig,
} from './support/processes.ts';

const MODEL = 'e2e-metrics-model';

describe('am worker --metrics-port: a real worker process serves metrics that move when it runs a task', () => {
  let nats: TestNats;
  let dir: string;
  let fake: FakeOpenAiServer;
  let server: ServerProc;
  let config: string;
  let worker: Proc;
  let metricsUrl: string;
  let graph: TaskGraph;
  let reactCalls = 0;
  const timings: Record<string, number> = {};

  /** The model: the first ReAct call is a 500 (retried by the client), then an answer naming the task. */
  function script(request: RecordedRequest) {
    const name = request.body?.response_format?.json_schema?.name;
    if (name === 'react_step') {
      reactCalls += 1;
      if (reactCalls === 1) return { status: 500, body: { error: { message: 'overloaded' } } };
      return jsonReply(
        {
          thought: 'Done.',
          action: { kind: 'final', tool: null, input: null, answer: 'A haiku about metrics, written.' },
        },
        { prompt_tokens: 40, completion_tokens: 8 },
      );
    }
    if (name === 'synthesis') {
      return jsonReply(
        { thought: 'One part.', answer: 'The haiku.' },
        { prompt_tokens: 6, completion_tokens: 2 },
      );
    }
    return { status: 400, body: { error: { message: `unscripted ${String(name)}` } } };
  }

  const scrape = async () => {
    const response = await fetch(metricsUrl);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    return parseExposition(await response.text());
  };

  beforeAll(async () => {
    nats = await startTestNats();
    dir = makeTempDir('am-e2e-worker-metrics');
    fake = await startFakeOpenAiServer();
    fake.setFallback(script);
    server = await startServer({ natsUrl: nats.url, dir });
    config = await workerConfig(server, dir, 'metrics-worker');
    const port = await freePort();
    const spawned = performance.now();
    worker = am(['worker', '--config', config, '--metrics-port', String(port)], {
      AM_LLM_PROVIDER: 'openai',
      OPENAI_BASE_URL: fake.baseURL,
      OPENAI_API_KEY: 'sk-e2e',
      AM_MODEL_WORKER: MODEL,
    });
    const [, url] = await worker.waitFor(/metrics on (\S+)\n/, 30_000);
    metricsUrl = url ?? '';
    await worker.waitFor(/ tools: .*\n/, 30_000);
    timings.workerReadyMs = performance.now() - spawned;
  });

  afterAll(async () => {
    console.log(
      `worker-metrics e2e timings: ${JSON.stringify(Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])))}`,
    );
    await killAll();
    await fake?.close();
    await nats?.cleanup();
  });

  it('binds loopback by default and serves only /metrics', async () => {
    expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const other = await fetch(metricsUrl.replace('/metrics', '/'));
    expect(other.status).toBe(404);
    const before = await scrape();
    expect(before.get('am_worker_tasks_total')?.type).toBe('counter');
    expect(seriesValue(before, 'am_worker_tasks_total')).toBe(0);
    expect(seriesValue(before, 'am_llm_calls_total')).toBe(0);
  });

  it('counts the task it ran, its run time, and its model calls by role and model', async () => {
    const submitted = performance.now();
    const { graphId } = await submitGraph(server, {
      goal: 'A haiku',
      tasks: [{ id: 'haiku', title: 'Write a haiku', instructions: 'Write a haiku about metrics.' }],
    });
    graph = await waitForGraph(server, graphId, isTerminal);
    timings.graphMs = performance.now() - submitted;
    expect(graph.graph.status).toBe('SUCCEEDED');

    const after = await scrape();
    expect(seriesValue(after, 'am_worker_tasks_total', { kind: 'work', outcome: 'completed' })).toBe(1);
    expect(seriesValue(after, 'am_worker_tasks_total', { kind: 'synthesis', outcome: 'completed' })).toBe(1);
    expect(
      seriesValue(after, 'am_worker_task_run_seconds_count', { kind: 'work', outcome: 'completed' }),
    ).toBe(1);
    const runSeconds = seriesValue(after, 'am_worker_task_run_seconds_sum', { kind: 'work' });
    expect(runSeconds).toBeGreaterThan(0);
    expect(runSeconds).toBeLessThan(timings.graphMs / 1000);
    const calls = (role: string, outcome: string) =>
      seriesValue(after, 'am_llm_calls_total', { role, model: MODEL, outcome });
    expect(calls('worker', 'server_error')).toBe(1);
    expect(calls('worker', 'ok')).toBe(1);
    expect(calls('synthesis', 'ok')).toBe(1);
    expect(seriesValue(after, 'am_llm_tokens_total', { role: 'worker', model: MODEL, kind: 'prompt' })).toBe(
      40,
    );
    expect(seriesValue(after, 'am_llm_tokens_total', { role: 'synthesis', kind: 'completion' })).toBe(2);
    expect(seriesValue(after, 'am_llm_call_duration_seconds_count', { role: 'worker', model: MODEL })).toBe(
      1,
    );
    expect(seriesValue(after, 'am_llm_errors_total')).toBe(0); // the 500 was retried, the request succeeded

    // The server derived the same tokens from the results in the stream.
    const response = await fetch(`${server.url}/metrics`, {
      headers: { authorization: `Bearer ${server.adminToken}` },
    });
    const serverSide = parseExposition(await response.text());
    expect(
      seriesValue(serverSide, 'am_result_tokens_total', { role: 'worker', model: MODEL, kind: 'prompt' }),
    ).toBe(40);
    expect(seriesValue(serverSide, 'am_task_run_seconds_count', { kind: 'work', outcome: 'completed' })).toBe(
      1,
    );
  });

  it('stops serving when the worker stops', async () => {
    expect(await worker.stop('SIGTERM')).toBe(0);
    await expect(fetch(metricsUrl)).rejects.toThrow();
  });

  it('refuses --metrics-host without --metrics-port, naming the option', async () => {
    const refused = am(['worker', '--config', config, '--metrics-host', '0.0.0.0']);
    expect(await refused.exited).not.toBe(0);
    expect(refused.output()).toContain('--metrics-host: needs --metrics-port');
  });
});
