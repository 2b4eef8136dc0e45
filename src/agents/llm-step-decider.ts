import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { Step } from '../protocol/index.ts';
import type { StructuredLlm } from './llm-client.ts';
import { type ThoughtAction, ThoughtActionSchema, toStepDecision } from './llm-schemas.ts';
import { PROMPT_VERSION, workerSystemPrompt, workerTaskPrompt } from './prompts.ts';
import type { ReactState, StepDecider } from './react-loop.ts';

/** The ReAct step decider backed by a model: the whole history is replayed as the conversation. */
export function createLlmStepDecider(llm: StructuredLlm): StepDecider {
  return {
    model: llm.modelFor('worker'),
    promptVersion: PROMPT_VERSION,
    async decide(state, signal) {
      const reply = await llm.complete({
        role: 'worker',
        name: 'react_step',
        schema: ThoughtActionSchema,
        messages: reactMessages(state),
        refine: toStepDecision,
        ...(signal ? { signal } : {}),
      });
      return { decision: reply.value, usage: reply.usage };
    },
  };
}

export function reactMessages(state: ReactState): ChatCompletionMessageParam[] {
  const messages: ChatCompletionMessageParam[] = [
    { role: 'system', content: workerSystemPrompt(state.tools) },
    { role: 'user', content: workerTaskPrompt(state) },
  ];
  for (const step of state.history) {
    messages.push({ role: 'assistant', content: JSON.stringify(toThoughtAction(step)) });
    messages.push({ role: 'user', content: `Observation: ${step.observation ?? '(none)'}` });
  }
  return messages;
}

/** The inverse of toStepDecision, so the model sees its earlier steps in its own format. */
export function toThoughtAction(step: Step): ThoughtAction {
  const { action } = step;
  switch (action.type) {
    case 'tool':
      return {
        thought: step.thought,
        action: { kind: 'tool', tool: action.name, input: JSON.stringify(action.input ?? {}), answer: null },
      };
    case 'final':
      return {
        thought: step.thought,
        action: { kind: 'final', tool: null, input: null, answer: action.answer },
      };
    default: {
      const unreachable: never = action;
      return unreachable;
    }
  }
}
