import { describe, expect, it } from 'vitest';
import type { StructuredLlm, StructuredRequest } from '../../../src/agents/llm-client.ts';
import type { ThoughtAction } from '../../../src/agents/llm-schemas.ts';
import { createLlmStepDecider } from '../../../src/agents/llm-step-decider.ts';
import { createAgents, createToolRegistry } from '../../../src/agents/providers.ts';
import { executeTask, type ReactState, type StepDecider } from '../../../src/agents/react-loop.ts';
import { AppError } from '../../../src/errors.ts';
import type { ClaimContext, ClaimedTask, Step } from '../../../src/protocol/index.ts';

const task: ClaimedTask = {
  id: 'sum',
  graphId: '0b7f6c1e-3c1a-4d4f-9a51-2f4c1d2e3f40',
  title: 'Add the numbers',
  instructions: 'What is 2 + 3?',
  kind: 'work',
  attempt: 1,
  cycle: 1,
};
const context: ClaimContext = {
  goal: 'Arithmetic',
  dependencies: [{ taskId: 'data', output: 'numbers: 2, 3' }],
};
const usage = { promptTokens: 3, completionTokens: 2, totalTokens: 5 };

/** A model that answers from a script of ThoughtActions, as the LLM would, recording what it saw. */
function scriptedLlm(
  script: ThoughtAction[],
): StructuredLlm & { seen: StructuredRequest<unknown, unknown>[] } {
  const seen: StructuredRequest<unknown, unknown>[] = [];
  return {
    seen,
    modelFor: () => 'scripted-model',
    async complete<T, U>(request: StructuredRequest<T, U>) {
      seen.push(request as StructuredRequest<unknown, unknown>);
      const next = script.shift();
      if (!next) throw new Error('script exhausted');
      const parsed = request.schema.parse(next);
      const refined = request.refine
        ? request.refine(parsed)
        : { ok: true as const, value: parsed as unknown as U };
      if (!refined.ok) throw new AppError('AM_ERR_LLM_INVALID_OUTPUT', refined.problem);
      return { value: refined.value, usage, model: 'scripted-model', calls: 1 };
    },
  };
}

const tool = (thought: string, name: string, input: unknown): ThoughtAction => ({
  thought,
  action: { kind: 'tool', tool: name, input: JSON.stringify(input), answer: null },
});
const final = (thought: string, answer: string): ThoughtAction => ({
  thought,
  action: { kind: 'final', tool: null, input: null, answer },
});

const tools = createToolRegistry({});

describe('executeTask', () => {
  describe('with a scripted model that uses tools then answers', () => {
    it('records thought, action and observation of every step and returns the whole history', async () => {
      const llm = scriptedLlm([
        tool('Read the data first.', 'read_dependency', { taskId: 'data' }),
        tool('Add them.', 'calculator', { expression: '2 + 3' }),
        final('Done.', 'The sum is 5.'),
      ]);
      const streamed: [Step, number][] = [];
      const outcome = await executeTask(task, context, {
        decider: createLlmStepDecider(llm),
        tools,
        onStep: (step, index) => streamed.push([step, index]),
      });
      expect(outcome.status).toBe('completed');
      if (outcome.status !== 'completed') return;
      const { result } = outcome;
      expect(result.output).toBe('The sum is 5.');
      expect(result.model).toBe('scripted-model');
      expect(result.usage).toEqual({ promptTokens: 9, completionTokens: 6, totalTokens: 15 });
      expect(
        result.history.map(({ thought, action, observation }) => ({ thought, action, observation })),
      ).toEqual([
        {
          thought: 'Read the data first.',
          action: { type: 'tool', name: 'read_dependency', input: { taskId: 'data' } },
          observation: 'numbers: 2, 3',
        },
        {
          thought: 'Add them.',
          action: { type: 'tool', name: 'calculator', input: { expression: '2 + 3' } },
          observation: '5',
        },
        { thought: 'Done.', action: { type: 'final', answer: 'The sum is 5.' }, observation: undefined },
      ]);
      expect(streamed.map(([, index]) => index)).toEqual([0, 1, 2]);
      expect(streamed.map(([step]) => step)).toEqual(result.history);
    });

    it('replays earlier steps and their observations to the model', async () => {
      const llm = scriptedLlm([tool('Add.', 'calculator', { expression: '2 + 3' }), final('Done.', '5')]);
      await executeTask(task, context, { decider: createLlmStepDecider(llm), tools });
      const second = llm.seen[1]!.messages.map((m) => m.content);
      expect(second.at(-2)).toBe(JSON.stringify(tool('Add.', 'calculator', { expression: '2 + 3' })));
      expect(second.at(-1)).toBe('Observation: 5');
    });
  });

  describe('when a tool fails', () => {
    it('records the error as the observation and goes on', async () => {
      const llm = scriptedLlm([
        tool('Divide.', 'calculator', { expression: '1 / 0' }),
        tool('Search.', 'web_search', { q: 'x' }),
        final('Give up gracefully.', 'Cannot divide by zero.'),
      ]);
      const outcome = await executeTask(task, context, { decider: createLlmStepDecider(llm), tools });
      expect(outcome.status).toBe('completed');
      if (outcome.status !== 'completed') return;
      expect(outcome.result.history[0]!.observation).toBe(
        'Error: calculator failed: division by zero at position 2',
      );
      expect(outcome.result.history[1]!.observation).toBe(
        'Error: unknown tool "web_search". Available tools: calculator, read_dependency.',
      );
    });
  });

  describe('when the model never gives a final answer', () => {
    it('fails out of steps and keeps the whole history', async () => {
      const llm = scriptedLlm(
        Array.from({ length: 10 }, (_, i) => tool(`Try ${i}.`, 'calculator', { expression: `${i} + 1` })),
      );
      const outcome = await executeTask(task, context, {
        decider: createLlmStepDecider(llm),
        tools,
        maxSteps: 3,
      });
      expect(outcome).toMatchObject({
        status: 'failed',
        error: { message: 'no final answer after 3 steps', retryable: true },
      });
      if (outcome.status !== 'failed') return;
      expect(outcome.history.map((s) => [s.thought, s.observation])).toEqual([
        ['Try 0.', '1'],
        ['Try 1.', '2'],
        ['Try 2.', '3'],
      ]);
      expect(llm.seen).toHaveLength(3);
    });
  });

  describe('when the model call fails', () => {
    it('fails retryably with the error code and keeps the steps made so far', async () => {
      const llm = scriptedLlm([tool('Add.', 'calculator', { expression: '2 + 3' })]);
      const decider = createLlmStepDecider(llm);
      const failing: StepDecider = {
        ...decider,
        decide: (state: ReactState, signal?: AbortSignal) =>
          state.history.length === 0
            ? decider.decide(state, signal)
            : Promise.reject(new AppError('AM_ERR_LLM_UNAVAILABLE', 'the model endpoint answered 503')),
      };
      const outcome = await executeTask(task, context, { decider: failing, tools });
      expect(outcome).toMatchObject({
        status: 'failed',
        error: {
          message: 'the model endpoint answered 503',
          retryable: true,
          code: 'AM_ERR_LLM_UNAVAILABLE',
        },
        history: [{ thought: 'Add.', observation: '5' }],
      });
    });
  });

  describe('when the signal is aborted', () => {
    it('rejects with AM_ERR_LLM_ABORTED before calling the model', async () => {
      const llm = scriptedLlm([final('x', 'y')]);
      const controller = new AbortController();
      controller.abort();
      await expect(
        executeTask(task, context, { decider: createLlmStepDecider(llm), tools, signal: controller.signal }),
      ).rejects.toMatchObject({ code: 'AM_ERR_LLM_ABORTED' });
      expect(llm.seen).toHaveLength(0);
    });
  });

  describe('when an onStep listener throws', () => {
    it('still completes the task', async () => {
      const outcome = await executeTask(task, context, {
        decider: createLlmStepDecider(scriptedLlm([final('x', 'y')])),
        tools,
        onStep: () => {
          throw new Error('listener bug');
        },
      });
      expect(outcome.status).toBe('completed');
    });
  });

  describe('a reworked task', () => {
    it('puts the auditor notes and the previous output into the prompt', async () => {
      const llm = scriptedLlm([final('Fixed.', '5')]);
      await executeTask(
        { ...task, cycle: 2 },
        { ...context, rework: { notes: 'The sum was wrong.', previousOutput: '6' } },
        {
          decider: createLlmStepDecider(llm),
          tools,
        },
      );
      const prompt = String(llm.seen[0]!.messages[1]!.content);
      expect(prompt).toContain('REWORKED (cycle 2)');
      expect(prompt).toContain('Auditor notes:\nThe sum was wrong.');
      expect(prompt).toContain('Previous output (do not repeat its problems):\n6');
    });
  });

  describe('a synthesis task through an injected model', () => {
    it('calls synthesize with the dependencies instead of the ReAct loop', async () => {
      const seen: string[] = [];
      const agents = createAgents({
        llmClient: {
          modelFor: () => 'scripted-model',
          async complete<T, U>(request: StructuredRequest<T, U>) {
            seen.push(request.name);
            const value = request.schema.parse({ thought: 'Combine.', answer: 'Final: 5' }) as unknown as U;
            return { value, usage, model: 'scripted-model', calls: 1 };
          },
        },
      });
      expect(agents.provider).toBe('openai');
      const outcome = await agents.executeTask({ ...task, id: '_synthesis', kind: 'synthesis' }, context);
      expect(seen).toEqual(['synthesis']);
      expect(outcome).toMatchObject({
        status: 'completed',
        result: {
          output: 'Final: 5',
          history: [{ thought: 'Combine.', action: { type: 'final', answer: 'Final: 5' } }],
        },
      });
    });
  });
});
