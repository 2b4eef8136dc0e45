import { z } from 'zod';
import { LIMITS } from './limits.ts';

export const ToolActionSchema = z.object({
  type: z.literal('tool'),
  name: z.string().min(1).max(64),
  /** The tool's input as JSON (LLM-facing schemas carry it as a string and parse it before it gets here). */
  input: z.unknown(),
});
export const FinalActionSchema = z.object({
  type: z.literal('final'),
  answer: z.string().max(LIMITS.maxOutputChars),
});
export const ActionSchema = z.discriminatedUnion('type', [ToolActionSchema, FinalActionSchema]);

/** One Thought → Action → Observation iteration of the ReAct loop. */
export const StepSchema = z.object({
  thought: z.string().max(LIMITS.maxThoughtChars),
  action: ActionSchema,
  observation: z.string().max(LIMITS.maxObservationChars).optional(),
  startedAt: z.iso.datetime().optional(),
  durationMs: z.number().int().nonnegative().optional(),
});

export type ToolAction = z.infer<typeof ToolActionSchema>;
export type FinalAction = z.infer<typeof FinalActionSchema>;
export type Action = z.infer<typeof ActionSchema>;
export type Step = z.infer<typeof StepSchema>;
