import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Agents, createAgents } from '../../../src/agents/providers.ts';
import type { ClaimContext, ClaimedTask, Step } from '../../../src/protocol/index.ts';
import { ResultSchema } from '../../../src/protocol/index.ts';
import {
  type FakeOpenAiServer,
  jsonReply,
  startFakeOpenAiServer,
} from '../../fixtures/fake-openai-server.ts';

let server: FakeOpenAiServer;
let agents: Agents;
beforeAll(async () => {
  server = await startFakeOpenAiServer();
  agents = createAgents({
    provider: 'auto',
    llm: { baseURL: server.baseURL, apiKey: 'k', models: { worker: 'worker-model' }, backoffBaseMs: 5 },
    maxSteps: 4,
  });
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => server.reset());

const task: ClaimedTask = {
  id: 'total',
  graphId: '0b7f6c1e-3c1a-4d4f-9a51-2f4c1d2e3f40',
  title: 'Total cost',
  instructions: 'Add the venue cost from the venues task to 12 * 150 catering.',
  kind: 'work',
  attempt: 1,
  cycle: 1,
};
const context: ClaimContext = {
  goal: 'Plan the offsite',
  dependencies: [{ taskId: 'venues', output: 'Venue: 2400 EUR' }],
};

const step = (
  thought: string,
  kind: 'tool' | 'final',
  rest: { tool?: string; input?: unknown; answer?: string },
) =>
  jsonReply({
    thought,
    action: {
      kind,
      tool: rest.tool ?? null,
      input: rest.input === undefined ? null : JSON.stringify(rest.input),
      answer: rest.answer ?? null,
    },
  });

describe('executeTask through an OpenAI-compatible endpoint', () => {
  describe('when the model reads a dependency, calculates and answers', () => {
    it('returns a Result holding the full ReAct history', async () => {
      server.enqueue(
        step('I need the venue cost.', 'tool', { tool: 'read_dependency', input: { taskId: 'venues' } }),
        step('Now add catering.', 'tool', { tool: 'calculator', input: { expression: '2400 + 12 * 150' } }),
        step('I have the total.', 'final', { answer: 'Total: 4200 EUR' }),
      );
      const streamed: Step[] = [];
      const outcome = await agents.executeTask(task, context, { onStep: (s) => streamed.push(s) });
      expect(agents.provider).toBe('openai');
      expect(outcome.status).toBe('completed');
      if (outcome.status !== 'completed') return;
      const { result } = outcome;
      expect(ResultSchema.safeParse(result).success).toBe(true);
      expect(result.output).toBe('Total: 4200 EUR');
      expect(result.model).toBe('worker-model');
      expect(result.promptVersion).toMatch(/^am-prompts-/);
      expect(result.usage).toEqual({ promptTokens: 30, completionTokens: 15, totalTokens: 45 });
      expect(result.history).toHaveLength(3);
      expect(result.history[0]).toMatchObject({
        thought: 'I need the venue cost.',
        action: { type: 'tool', name: 'read_dependency', input: { taskId: 'venues' } },
        observation: 'Venue: 2400 EUR',
      });
      expect(result.history[1]).toMatchObject({
        thought: 'Now add catering.',
        action: { type: 'tool', name: 'calculator', input: { expression: '2400 + 12 * 150' } },
        observation: '4200',
      });
      expect(result.history[2]).toMatchObject({
        thought: 'I have the total.',
        action: { type: 'final', answer: 'Total: 4200 EUR' },
      });
      expect(result.history[2]!.observation).toBeUndefined();
      for (const s of result.history) {
        expect(s.startedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
        expect(s.durationMs).toBeGreaterThanOrEqual(0);
      }
      expect(streamed).toEqual(result.history);
    });

    it('sends each step with the json_schema format, the tools in the prompt and the observations so far', async () => {
      server.enqueue(
        step('Calc.', 'tool', { tool: 'calculator', input: { expression: '12 * 150' } }),
        step('Done.', 'final', { answer: '1800' }),
      );
      await agents.executeTask(task, context);
      const [first, second] = server.requests.map((r) => r.body!);
      expect(first!.response_format).toMatchObject({
        type: 'json_schema',
        json_schema: { name: 'react_step', strict: true },
      });
      expect(first!.model).toBe('worker-model');
      expect(first!.messages[0]!.content).toContain('- calculator:');
      expect(first!.messages[0]!.content).toContain('- read_dependency:');
      expect(first!.messages[1]!.content).toContain('Add the venue cost from the venues task');
      expect(first!.messages[1]!.content).toContain('--- output of task venues ---\nVenue: 2400 EUR');
      expect(second!.messages).toHaveLength(4);
      expect(second!.messages[3]).toEqual({ role: 'user', content: 'Observation: 1800' });
    });
  });

  describe('when the model calls a tool that does not exist', () => {
    it('turns it into an observation and lets the model recover', async () => {
      server.enqueue(
        step('Search the web.', 'tool', { tool: 'web_search', input: { q: 'venues' } }),
        step('No search; answer.', 'final', { answer: 'Venue: 2400 EUR' }),
      );
      const outcome = await agents.executeTask(task, context);
      expect(outcome.status).toBe('completed');
      if (outcome.status !== 'completed') return;
      expect(outcome.result.history[0]!.observation).toBe(
        'Error: unknown tool "web_search". Available tools: calculator, read_dependency.',
      );
    });
  });

  describe('when the model loops past maxSteps', () => {
    it('fails and keeps every step', async () => {
      server.setFallback(step('Again.', 'tool', { tool: 'calculator', input: { expression: '1 + 1' } }));
      const outcome = await agents.executeTask(task, context);
      expect(outcome).toMatchObject({
        status: 'failed',
        error: { message: 'no final answer after 4 steps' },
      });
      if (outcome.status !== 'failed') return;
      expect(outcome.history).toHaveLength(4);
      expect(outcome.history.every((s) => s.observation === '2')).toBe(true);
      expect(server.requests).toHaveLength(4);
    });
  });

  describe('when the model endpoint stays down', () => {
    it('fails retryably with AM_ERR_LLM_UNAVAILABLE and the history so far', async () => {
      server.enqueue(step('Calc.', 'tool', { tool: 'calculator', input: { expression: '2 + 2' } }));
      server.setFallback({ status: 500, body: { error: { message: 'down' } } });
      const outcome = await agents.executeTask(task, context);
      expect(outcome).toMatchObject({
        status: 'failed',
        error: { retryable: true, code: 'AM_ERR_LLM_UNAVAILABLE' },
        history: [{ thought: 'Calc.', observation: '4' }],
      });
    });
  });

  describe('when http_get is allowed for a URL prefix', () => {
    it('fetches over real HTTP and observes the status and body', async () => {
      const withHttp = createAgents({
        llm: { baseURL: server.baseURL, backoffBaseMs: 5 },
        httpGet: { allowlist: [`${server.baseURL}/`], timeoutMs: 1_000, maxBytes: 2_000 },
      });
      server.enqueue(
        step('Look it up.', 'tool', { tool: 'http_get', input: { url: `${server.baseURL}/models` } }),
        step('Not outside the allowlist.', 'tool', {
          tool: 'http_get',
          input: { url: 'http://example.com/' },
        }),
        step('Done.', 'final', { answer: 'no models endpoint' }),
      );
      const outcome = await withHttp.executeTask(task, context);
      expect(outcome.status).toBe('completed');
      if (outcome.status !== 'completed') return;
      expect(outcome.result.history[0]!.observation).toBe(
        'HTTP 404\n{"error":{"message":"no route GET /v1/models"}}',
      );
      expect(outcome.result.history[1]!.observation).toContain('http://example.com/ is not allowed');
      expect(server.requests.find((r) => r.method === 'GET')?.path).toBe('/v1/models');
    });
  });

  describe('a reworked task', () => {
    it('sends the auditor notes and the previous output in the prompt', async () => {
      server.enqueue(step('Fix it.', 'final', { answer: 'Total: 4200 EUR' }));
      await agents.executeTask(
        { ...task, cycle: 2 },
        { ...context, rework: { notes: 'Catering was left out.', previousOutput: 'Total: 2400 EUR' } },
      );
      const prompt = server.requests[0]!.body!.messages[1]!.content;
      expect(prompt).toContain('Auditor notes:\nCatering was left out.');
      expect(prompt).toContain('Previous output (do not repeat its problems):\nTotal: 2400 EUR');
    });
  });

  describe('synthesize', () => {
    it('returns the final answer as a Result with a one-step history', async () => {
      server.enqueue(
        jsonReply({ thought: 'Merge both.', answer: 'The offsite costs 4200 EUR at the lake venue.' }),
      );
      const result = await agents.synthesize({
        goal: 'Plan the offsite',
        tasks: [
          { id: 'venues', title: 'Venues', output: 'Venue: 2400 EUR' },
          { id: 'total', title: 'Total cost', output: 'Total: 4200 EUR' },
        ],
      });
      expect(result).toMatchObject({
        output: 'The offsite costs 4200 EUR at the lake venue.',
        history: [
          {
            thought: 'Merge both.',
            action: { type: 'final', answer: 'The offsite costs 4200 EUR at the lake venue.' },
          },
        ],
        model: 'worker-model',
      });
      const body = server.requests[0]!.body!;
      expect(body.response_format).toMatchObject({ json_schema: { name: 'synthesis' } });
      expect(body.messages[1]!.content).toContain('=== total: Total cost\nTotal: 4200 EUR');
    });
  });
});
