import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Step, TaskGraph, TrailEvent } from '../../src/protocol/index.ts';
import {
  type FakeOpenAiServer,
  jsonReply,
  type RecordedRequest,
  startFakeOpenAiServer,
} from '../fixtures/fake-openai-server.ts';
import { makeTempDir, startTestNats, type TestNats, waitUntil } from '../kit/index.ts';
import {
  am,
  isTerminal,
  killAll,
  type Proc,
  ROOT,
  type ServerProc,
  startServer,
  submitGraph,
  trail,
  waitForGraph,
  workerConfig,
} from './support/processes.ts';

const EVERYTHING = join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
const EXAMPLE_TOOLS = join(ROOT, 'examples/custom-tools/tools.mjs');
/** Set in the worker's environment only: a tool server must never see them. */
const WORKER_SECRET = 'AM_E2E_WORKER_SECRET';
const API_KEY = 'sk-e2e-key-that-must-not-leak';

/** What the scripted model calls first in each task (its id), before answering with the observation. */
const FIRST_CALL: Record<string, { tool: string; input: Record<string, unknown> }> = {
  echo: { tool: 'everything__echo', input: { message: 'hello from an AM task' } },
  env: { tool: 'everything__get-env', input: {} },
  words: { tool: 'word_count', input: { text: 'one two three four five' } },
};

/**
 * The model: in a task, step 1 calls the task's tool, step 2 answers with the observation it got
 * (naming the task's title, so the offline audit sees its keywords); synthesis joins the outputs.
 */
function script(request: RecordedRequest) {
  const body = request.body;
  const schema = body?.response_format?.json_schema?.name;
  switch (schema) {
    case 'react_step': {
      const messages = body?.messages ?? [];
      const taskId = /Your task \(([^)]+)\)/.exec(messages[1]?.content ?? '')?.[1] ?? '';
      const observations = messages.filter((m) => m.role === 'user' && m.content.startsWith('Observation: '));
      const call = FIRST_CALL[taskId];
      if (call && observations.length === 0) {
        return jsonReply({
          thought: `I will use ${call.tool}.`,
          action: { kind: 'tool', tool: call.tool, input: JSON.stringify(call.input), answer: null },
        });
      }
      const seen = observations.at(-1)?.content.slice('Observation: '.length) ?? '(nothing)';
      return jsonReply({
        thought: 'I have what I need.',
        action: { kind: 'final', tool: null, input: null, answer: `Tool result for ${taskId}: ${seen}` },
      });
    }
    case 'synthesis':
      return jsonReply({ thought: 'Join them.', answer: 'Every tool answered.' });
    default:
      return { status: 400, body: { error: { message: `unscripted ${String(schema)}` } } };
  }
}

/** Process ids whose environment holds `NAME=value` (Linux /proc; processes of this user). */
function pidsWithEnv(entry: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(entry);
      } catch {
        return false;
      }
    })
    .map(Number);
}

function toolStep(history: readonly Step[], name: string): Step | undefined {
  return history.find((step) => step.action.type === 'tool' && step.action.name === name);
}

describe('worker tools: MCP tool servers and custom tool modules in a real am worker', () => {
  let nats: TestNats;
  let dir: string;
  let fake: FakeOpenAiServer;
  let server: ServerProc;
  let worker: Proc;
  let graph: TaskGraph;
  let events: TrailEvent[];
  /** Set in the MCP child's env (by the config), to find the child among the processes. */
  const markValue = `${process.pid}-${Date.now()}`;
  const mark = `AM_E2E_MARK=${markValue}`;
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    nats = await startTestNats();
    dir = makeTempDir('am-e2e-worker-tools');
    fake = await startFakeOpenAiServer();
    fake.setFallback(script);
    server = await startServer({ natsUrl: nats.url, dir });
    const config = await workerConfig(server, dir, 'tools-worker', {
      // Relative to the config file's directory (the temp dir), as a user would write it.
      tool_modules: [relative(dir, EXAMPLE_TOOLS)],
      mcpServers: {
        everything: {
          command: 'node',
          args: [EVERYTHING, 'stdio'],
          env: { GREETING: 'configured', AM_E2E_MARK: markValue },
          allowTools: ['echo', 'get-env', 'get-sum'],
          timeoutMs: 10_000,
        },
      },
    });
    const spawned = performance.now();
    worker = am(['worker', '--config', config], {
      AM_LLM_PROVIDER: 'openai',
      OPENAI_BASE_URL: fake.baseURL,
      OPENAI_API_KEY: API_KEY,
      [WORKER_SECRET]: 'must-not-leak',
    });
    await worker.waitFor(/ tools: .*\n/, 30_000);
    timings.workerReadyMs = performance.now() - spawned;
    const submitted = performance.now();
    const { graphId } = await submitGraph(server, {
      goal: 'Exercise the tools of a worker',
      tasks: [
        { id: 'echo', title: 'Echo a greeting', instructions: 'Echo a greeting through the MCP echo tool.' },
        {
          id: 'env',
          title: 'Show the tool environment',
          instructions: 'Show the environment a tool server gets.',
        },
        { id: 'words', title: 'Count words', instructions: 'Count the words of a sentence.' },
      ],
    });
    graph = await waitForGraph(server, graphId, isTerminal);
    timings.graphMs = performance.now() - submitted;
    events = await trail(server, graphId);
  });

  afterAll(async () => {
    console.log(
      `worker-tools e2e timings: ${JSON.stringify(Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])))}`,
    );
    await killAll();
    await fake?.close();
    await nats?.cleanup();
  });

  it('starts the MCP server once and lists its allowed tools beside the built-in and module ones', () => {
    const line = /tools: (.*)\n/.exec(worker.output())?.[1] ?? '';
    expect(line.split(', ')).toEqual([
      'calculator',
      'read_dependency',
      'word_count',
      'task_info',
      'everything__echo',
      'everything__get-env',
      'everything__get-sum',
    ]);
    expect(pidsWithEnv(mark)).toHaveLength(1);
  });

  it("shows the model each MCP tool's JSON Schema in the prompt", () => {
    const prompt = fake.requests.find((r) => r.body?.response_format?.json_schema?.name === 'react_step')
      ?.body?.messages[0]?.content;
    expect(prompt).toContain(
      '- everything__echo: Echoes back the input string\n  input JSON Schema: {"type":"object","properties":{"message":{"type":"string","description":"Message to echo"}},"required":["message"]',
    );
    expect(prompt).toContain('- word_count: Counts the words and characters of a text.');
  });

  it('runs everything__echo inside a ReAct step: the action and the echoed observation are in the history and the trail', () => {
    expect(graph.graph.status).toBe('SUCCEEDED');
    const task = graph.tasks.find((t) => t.id === 'echo');
    const step = toolStep(task?.result?.history ?? [], 'everything__echo');
    expect(step?.action).toEqual({
      type: 'tool',
      name: 'everything__echo',
      input: { message: 'hello from an AM task' },
    });
    expect(step?.observation).toBe('Echo: hello from an AM task');
    expect(task?.result?.output).toBe('Tool result for echo: Echo: hello from an AM task');
    timings.echoStepMs = step?.durationMs ?? Number.NaN;
    // The same step went through the stream: streamed as progress, and in the TaskCompleted result.
    const progressed = events.filter((e) => e.type === 'TaskProgressed' && e.taskId === 'echo');
    expect(progressed.map((e) => (e.data as { step: Step }).step.observation)).toContain(
      'Echo: hello from an AM task',
    );
    const completed = events.find((e) => e.type === 'TaskCompleted' && e.taskId === 'echo');
    const history = (completed?.data as { result: { history: Step[] } } | undefined)?.result.history ?? [];
    expect(toolStep(history, 'everything__echo')?.observation).toBe('Echo: hello from an AM task');
  });

  it('runs a tool of a custom tool module (examples/custom-tools) in a real worker', () => {
    const task = graph.tasks.find((t) => t.id === 'words');
    const step = toolStep(task?.result?.history ?? [], 'word_count');
    expect(step?.observation).toBe('5 words, 23 characters');
  });

  it("gives the tool server only the safe defaults and its configured env, never the worker's environment", () => {
    const task = graph.tasks.find((t) => t.id === 'env');
    const observation = toolStep(task?.result?.history ?? [], 'everything__get-env')?.observation ?? '{}';
    const env = JSON.parse(observation) as Record<string, string>;
    expect(env.GREETING).toBe('configured');
    expect(env.PATH).toBeDefined();
    expect(env[WORKER_SECRET]).toBeUndefined();
    expect(observation).not.toContain(API_KEY);
    expect(observation).not.toContain(server.adminToken);
    const leaked = Object.keys(env).filter((key) => /^(AM_(?!E2E_MARK)|OPENAI_|NATS_)/.test(key));
    expect(leaked).toEqual([]);
  });

  it('closes the tool server on shutdown: the worker exits 0 and its child is gone', async () => {
    const [pid] = pidsWithEnv(mark);
    expect(pid).toBeDefined();
    const stopping = performance.now();
    expect(await worker.stop('SIGTERM')).toBe(0);
    timings.shutdownMs = performance.now() - stopping;
    await waitUntil(() => pidsWithEnv(mark).length === 0, {
      timeoutMs: 3_000,
      message: 'the MCP child is gone',
    });
  });

  describe('when a tool cannot be set up, the worker exits 1 naming it', () => {
    it('an MCP server that fails to start', async () => {
      const config = await workerConfig(server, dir, 'broken-mcp', {
        mcpServers: {
          fine: { command: 'node', args: [EVERYTHING, 'stdio'], env: { AM_E2E_MARK: `${markValue}-fine` } },
          broken: {
            command: 'node',
            args: ['-e', 'console.error("cannot open the database"); process.exit(2)'],
          },
        },
      });
      const started = performance.now();
      const proc = am(['worker', '--config', config]);
      expect(await proc.exited).toBe(1);
      timings.failedStartMs = performance.now() - started;
      const out = proc.output().trim();
      expect(out).toMatch(
        /^am: .*broken-mcp\.json: mcpServers\.broken: could not start "node -e .*": MCP error -32000: Connection closed; its stderr ended: cannot open the database$/m,
      );
      expect(out).not.toMatch(/\n\s+at /);
      // The server that did start (its stderr line shows it ran) was closed again before the exit.
      expect(out).toContain('[mcp fine] Starting default (STDIO) server...');
      expect(pidsWithEnv(`${mark}-fine`)).toEqual([]);
    });

    it('a tool module that exports something else', async () => {
      const module = join(dir, 'not-tools.mjs');
      writeFileSync(module, 'export default { word_count: true };\n');
      const config = await workerConfig(server, dir, 'broken-module', { tool_modules: ['./not-tools.mjs'] });
      const proc = am(['worker', '--config', config]);
      expect(await proc.exited).toBe(1);
      expect(proc.output().trim()).toBe(
        `am: ${config}: tool_modules[0] (${module}): default export: expected an array of tools, got an object`,
      );
    });

    it('a config naming the wrong field', async () => {
      const config = await workerConfig(server, dir, 'broken-field', {
        mcpServers: { files: { args: ['x'] } },
      });
      const proc = am(['worker', '--config', config]);
      expect(await proc.exited).toBe(1);
      expect(proc.output().trim()).toMatch(/^am: .*broken-field\.json: mcpServers\.files\.command: Required/);
    });
  });
});
