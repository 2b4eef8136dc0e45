import { z } from 'zod';
import { LIMITS } from './limits.ts';
import { StepSchema } from './step.ts';

export const UsageSchema = z.object({
  promptTokens: z.number().int().nonnegative(),
  completionTokens: z.number().int().nonnegative(),
  totalTokens: z.number().int().nonnegative(),
});
export type Usage = z.infer<typeof UsageSchema>;

/** What a worker produced for a task: the output and every ReAct step that led to it. */
export const ResultSchema = z.object({
  output: z.string().max(LIMITS.maxOutputChars),
  history: z.array(StepSchema).max(LIMITS.maxStepsPerResult),
  usage: UsageSchema.optional(),
  /** The model that produced it, e.g. `gpt-4o-mini` or `offline`. */
  model: z.string().max(200).optional(),
  promptVersion: z.string().max(64).optional(),
});
export type Result = z.infer<typeof ResultSchema>;

export const TaskErrorSchema = z.object({
  message: z.string().max(LIMITS.maxErrorMessageChars),
  retryable: z.boolean(),
  code: z.string().max(64).optional(),
});
export type TaskError = z.infer<typeof TaskErrorSchema>;
