import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type LlmClientConfig, OpenAiLlmClient } from '../../../src/agents/llm-client.ts';
import { ThoughtActionSchema, toStepDecision } from '../../../src/agents/llm-schemas.ts';
import { AppError } from '../../../src/errors.ts';
import {
  type FakeOpenAiServer,
  jsonReply,
  startFakeOpenAiServer,
} from '../../fixtures/fake-openai-server.ts';

let server: FakeOpenAiServer;
beforeAll(async () => {
  server = await startFakeOpenAiServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => server.reset());

function client(over: Partial<LlmClientConfig> = {}): OpenAiLlmClient {
  return new OpenAiLlmClient({
    baseURL: server.baseURL,
    apiKey: 'test-key',
    models: { planner: 'planner-model', worker: 'worker-model', auditor: 'auditor-model' },
    backoffBaseMs: 5,
    timeoutMs: 2_000,
    ...over,
  });
}

const AnswerSchema = z.object({ answer: z.string(), confidence: z.number().nullable() });
const request = (signal?: AbortSignal) => ({
  role: 'worker' as const,
  name: 'answer',
  schema: AnswerSchema,
  messages: [{ role: 'user' as const, content: 'What is 6 * 7?' }],
  ...(signal ? { signal } : {}),
});
const valid = jsonReply({ answer: '42', confidence: null });

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('OpenAiLlmClient', () => {
  describe('in json_schema mode (the default)', () => {
    it('sends a strict json_schema response format built from the zod schema, to the role model', async () => {
      server.enqueue(valid);
      const reply = await client().complete(request());
      expect(reply.value).toEqual({ answer: '42', confidence: null });
      const body = server.requests[0]!.body!;
      expect(body.model).toBe('worker-model');
      expect(body.response_format).toEqual({
        type: 'json_schema',
        json_schema: {
          name: 'answer',
          strict: true,
          schema: expect.objectContaining({
            type: 'object',
            properties: { answer: { type: 'string' }, confidence: { type: ['number', 'null'] } },
            required: ['answer', 'confidence'],
            additionalProperties: false,
          }),
        },
      });
      expect(server.requests[0]!.headers.authorization).toBe('Bearer test-key');
    });

    it('makes every nullable ThoughtAction field required, as strict mode demands', async () => {
      server.enqueue(
        jsonReply({ thought: 't', action: { kind: 'final', tool: null, input: null, answer: 'a' } }),
      );
      await client().complete({
        ...request(),
        name: 'react_step',
        schema: ThoughtActionSchema,
        refine: toStepDecision,
      });
      const schema = server.requests[0]!.body!.response_format!.json_schema!.schema as {
        properties: { action: { required: string[]; additionalProperties: boolean } };
      };
      expect(schema.properties.action.required).toEqual(['kind', 'tool', 'input', 'answer']);
      expect(schema.properties.action.additionalProperties).toBe(false);
    });

    it('reports token usage', async () => {
      server.enqueue({ ...valid, usage: { prompt_tokens: 21, completion_tokens: 4 } });
      const reply = await client().complete(request());
      expect(reply.usage).toEqual({ promptTokens: 21, completionTokens: 4, totalTokens: 25 });
      expect(reply.model).toBe('worker-model');
      expect(reply.calls).toBe(1);
    });
  });

  describe('when the model replies with invalid JSON, then with valid output', () => {
    it('retries once with a corrective message that contains the parse error', async () => {
      server.enqueue({ content: '{"answer": "42"' }, valid);
      const reply = await client().complete(request());
      expect(reply.value.answer).toBe('42');
      expect(server.requests).toHaveLength(2);
      const messages = server.requests[1]!.body!.messages;
      expect(messages.at(-2)).toEqual({ role: 'assistant', content: '{"answer": "42"' });
      expect(messages.at(-1)!.role).toBe('user');
      expect(messages.at(-1)!.content).toContain('the reply is not valid JSON');
      expect(messages.at(-1)!.content).toContain('Your previous reply was rejected');
    });
  });

  describe('when the model replies with JSON that breaks the schema, then with valid output', () => {
    it('retries once with a corrective message naming the failing field', async () => {
      server.enqueue(jsonReply({ answer: 42, confidence: null }), valid);
      const reply = await client().complete(request());
      expect(reply.value.answer).toBe('42');
      const corrective = server.requests[1]!.body!.messages.at(-1)!.content;
      expect(corrective).toContain(
        'the JSON does not match the schema: answer: Invalid input: expected string',
      );
    });

    it('sums the token usage of both calls', async () => {
      server.enqueue(
        { content: 'nope', usage: { prompt_tokens: 10, completion_tokens: 1 } },
        { ...valid, usage: { prompt_tokens: 30, completion_tokens: 2 } },
      );
      const reply = await client().complete(request());
      expect(reply.usage).toEqual({ promptTokens: 40, completionTokens: 3, totalTokens: 43 });
      expect(reply.calls).toBe(2);
    });
  });

  describe('when a refine step rejects a schema-valid reply', () => {
    it('feeds the problem back to the model', async () => {
      server.enqueue(
        jsonReply({ thought: 't', action: { kind: 'tool', tool: null, input: null, answer: null } }),
        jsonReply({ thought: 't', action: { kind: 'final', tool: null, input: null, answer: 'done' } }),
      );
      const reply = await client().complete({
        ...request(),
        name: 'react_step',
        schema: ThoughtActionSchema,
        refine: toStepDecision,
      });
      expect(reply.value.action).toEqual({ type: 'final', answer: 'done' });
      expect(server.requests[1]!.body!.messages.at(-1)!.content).toContain(
        'action.kind is "tool" but action.tool is null',
      );
    });
  });

  describe('when the model never returns valid output', () => {
    it('fails with AM_ERR_LLM_INVALID_OUTPUT after exactly maxOutputAttempts calls', async () => {
      server.setFallback({ content: 'I cannot comply.' });
      const error = await rejection(client().complete(request()));
      expect(error.code).toBe('AM_ERR_LLM_INVALID_OUTPUT');
      expect(server.requests).toHaveLength(3);
      expect(error.details).toMatchObject({ calls: 3 });
    });

    it('honours a configured bound', async () => {
      server.setFallback({ content: '{}' });
      const error = await rejection(client({ maxOutputAttempts: 5 }).complete(request()));
      expect(error.code).toBe('AM_ERR_LLM_INVALID_OUTPUT');
      expect(server.requests).toHaveLength(5);
    });
  });

  describe('when the endpoint answers 429 with Retry-After', () => {
    it('waits the Retry-After seconds, then retries', async () => {
      server.enqueue(
        { status: 429, headers: { 'retry-after': '0.2' }, body: { error: { message: 'slow down' } } },
        valid,
      );
      const reply = await client({ backoffBaseMs: 1 }).complete(request());
      expect(reply.value.answer).toBe('42');
      expect(server.requests).toHaveLength(2);
      const gap = server.requests[1]!.at - server.requests[0]!.at;
      expect(gap).toBeGreaterThanOrEqual(190);
      expect(gap).toBeLessThan(1_000);
    });

    it('prefers retry-after-ms', async () => {
      server.enqueue(
        {
          status: 429,
          headers: { 'retry-after-ms': '120', 'retry-after': '30' },
          body: { error: { message: 'x' } },
        },
        valid,
      );
      await client({ backoffBaseMs: 1 }).complete(request());
      const gap = server.requests[1]!.at - server.requests[0]!.at;
      expect(gap).toBeGreaterThanOrEqual(110);
      expect(gap).toBeLessThan(1_000);
    });

    it('gives up as unavailable when Retry-After is longer than maxRetryAfterMs', async () => {
      server.enqueue({ status: 429, headers: { 'retry-after': '120' }, body: { error: { message: 'x' } } });
      const error = await rejection(client({ maxRetryAfterMs: 1_000 }).complete(request()));
      expect(error.code).toBe('AM_ERR_LLM_UNAVAILABLE');
      expect(server.requests).toHaveLength(1);
    });
  });

  describe('when the endpoint answers 5xx', () => {
    it('retries with exponential backoff', async () => {
      server.enqueue(
        { status: 503, body: { error: { message: 'overloaded' } } },
        { status: 500, body: { error: { message: 'oops' } } },
        valid,
      );
      const reply = await client({ backoffBaseMs: 40 }).complete(request());
      expect(reply.value.answer).toBe('42');
      const [a, b, c] = server.requests.map((r) => r.at);
      expect(b! - a!).toBeGreaterThanOrEqual(35);
      expect(c! - b!).toBeGreaterThanOrEqual(75);
    });

    it('fails with AM_ERR_LLM_UNAVAILABLE when the retries are exhausted', async () => {
      server.setFallback({ status: 502, body: { error: { message: 'bad gateway' } } });
      const error = await rejection(client({ maxRetries: 2 }).complete(request()));
      expect(error.code).toBe('AM_ERR_LLM_UNAVAILABLE');
      expect(server.requests).toHaveLength(3);
      expect(error.details).toMatchObject({ requests: 3, status: 502 });
    });
  });

  describe('when the endpoint refuses the request (4xx other than 408/409/429)', () => {
    it('does not retry', async () => {
      server.setFallback({ status: 401, body: { error: { message: 'bad key' } } });
      const error = await rejection(client().complete(request()));
      expect(error.code).toBe('AM_ERR_LLM_UNAVAILABLE');
      expect(error.details).toMatchObject({ status: 401 });
      expect(server.requests).toHaveLength(1);
    });
  });

  describe('when the endpoint cannot be reached', () => {
    it('retries, then fails with AM_ERR_LLM_UNAVAILABLE', async () => {
      const closed = await startFakeOpenAiServer();
      const baseURL = closed.baseURL;
      await closed.close();
      const error = await rejection(client({ baseURL, maxRetries: 1 }).complete(request()));
      expect(error.code).toBe('AM_ERR_LLM_UNAVAILABLE');
      expect(error.message).toContain('after 2 requests');
      // It names the endpoint and what sets it, so a wrong OPENAI_BASE_URL is found from the message.
      expect(error.message).toContain(`cannot reach the model endpoint ${baseURL} (OPENAI_BASE_URL)`);
    });
  });

  describe('when a call takes longer than timeoutMs', () => {
    it('fails with AM_ERR_LLM_UNAVAILABLE after the retries, each with its own timeout', async () => {
      server.setFallback({ ...valid, delayMs: 300 });
      const started = performance.now();
      const error = await rejection(client({ timeoutMs: 80, maxRetries: 1 }).complete(request()));
      expect(error.code).toBe('AM_ERR_LLM_UNAVAILABLE');
      expect(error.message).toContain('timed out after 80 ms');
      expect(server.requests).toHaveLength(2);
      // Without the timeouts the two calls would take >= 600 ms (300 ms each); the slack is for a loaded CI.
      expect(performance.now() - started).toBeLessThan(550);
    });
  });

  describe('when the caller aborts', () => {
    it('rejects with AM_ERR_LLM_ABORTED during a request', async () => {
      server.setFallback({ ...valid, delayMs: 300 });
      const controller = new AbortController();
      setTimeout(() => controller.abort(new Error('cancelled by test')), 40);
      const error = await rejection(client().complete(request(controller.signal)));
      expect(error.code).toBe('AM_ERR_LLM_ABORTED');
      expect(server.requests).toHaveLength(1);
    });

    it('rejects with AM_ERR_LLM_ABORTED during a backoff wait, without retrying', async () => {
      server.setFallback({ status: 503, body: { error: { message: 'x' } } });
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 60);
      const error = await rejection(client({ backoffBaseMs: 250 }).complete(request(controller.signal)));
      expect(error.code).toBe('AM_ERR_LLM_ABORTED');
      expect(server.requests).toHaveLength(1);
    });

    it('sends nothing when the signal is already aborted', async () => {
      const error = await rejection(client().complete(request(AbortSignal.abort())));
      expect(error.code).toBe('AM_ERR_LLM_ABORTED');
      expect(server.requests).toHaveLength(0);
    });
  });

  describe('in json_object mode', () => {
    it('asks for a JSON object and puts the JSON Schema in the prompt', async () => {
      server.enqueue(valid);
      const reply = await client({ structuredOutput: 'json_object' }).complete(request());
      expect(reply.value.answer).toBe('42');
      const body = server.requests[0]!.body!;
      expect(body.response_format).toEqual({ type: 'json_object' });
      const system = body.messages[0]!;
      expect(system.role).toBe('system');
      expect(system.content).toContain('It must match this JSON Schema');
      const schemaText = system.content.slice(system.content.indexOf('{'));
      expect(JSON.parse(schemaText)).toMatchObject({
        properties: { answer: { type: 'string' } },
        required: ['answer', 'confidence'],
      });
      expect(body.messages[1]).toEqual({ role: 'user', content: 'What is 6 * 7?' });
    });

    it('still validates and corrects, accepting a fenced reply', async () => {
      server.enqueue(jsonReply({ answer: null }), {
        content: '```json\n{"answer":"42","confidence":0.9}\n```',
      });
      const reply = await client({ structuredOutput: 'json_object' }).complete(request());
      expect(reply.value).toEqual({ answer: '42', confidence: 0.9 });
      expect(server.requests[1]!.body!.messages.at(-1)!.content).toContain('answer: Invalid input');
    });
  });
});
