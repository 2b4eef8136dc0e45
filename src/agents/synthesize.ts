import type { Result } from '../protocol/index.ts';
import { LIMITS, truncate } from '../protocol/index.ts';
import type { StructuredLlm } from './llm-client.ts';
import { LlmSynthesisSchema } from './llm-schemas.ts';
import { PROMPT_VERSION, SYNTHESIS_SYSTEM_PROMPT, synthesisUserPrompt } from './prompts.ts';

export interface SynthesisInput {
  goal: string;
  tasks: { id: string; title: string; output: string }[];
}

export interface SynthesizeDeps {
  llm: StructuredLlm;
  signal?: AbortSignal;
  now?: () => number;
}

/**
 * Writes the final answer from the audited task outputs. It is one structured call, recorded as a
 * one-step history so a synthesis Result looks like any other task's.
 */
export async function synthesize(input: SynthesisInput, deps: SynthesizeDeps): Promise<Result> {
  const now = deps.now ?? Date.now;
  const started = now();
  const reply = await deps.llm.complete({
    role: 'worker',
    name: 'synthesis',
    schema: LlmSynthesisSchema,
    messages: [
      { role: 'system', content: SYNTHESIS_SYSTEM_PROMPT },
      { role: 'user', content: synthesisUserPrompt(input) },
    ],
    refine: (value) =>
      value.answer.trim() === ''
        ? { ok: false, problem: 'answer is empty; write the complete final answer' }
        : { ok: true, value },
    ...(deps.signal ? { signal: deps.signal } : {}),
  });
  const answer = truncate(reply.value.answer, LIMITS.maxOutputChars);
  return {
    output: answer,
    history: [
      {
        thought: truncate(reply.value.thought, LIMITS.maxThoughtChars),
        action: { type: 'final', answer },
        startedAt: new Date(started).toISOString(),
        durationMs: Math.max(0, Math.round(now() - started)),
      },
    ],
    usage: reply.usage,
    model: reply.model,
    promptVersion: PROMPT_VERSION,
  };
}
