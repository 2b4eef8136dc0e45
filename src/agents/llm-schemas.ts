import { z } from 'zod';
import { LIMITS, type Step, truncate } from '../protocol/index.ts';
import type { Refined } from './llm-client.ts';

/*
 * The shapes the model answers in. Strict json_schema forbids open objects and optional fields, so
 * every field is required and an absent value is `null`; a tool's input travels as a JSON string and
 * is parsed into the wire Step (src/protocol/step.ts) afterwards. Bounds (sizes, score range, id
 * patterns) are checked after parsing against the protocol schemas rather than put in the JSON
 * Schema, because OpenAI-compatible servers differ in which keywords they accept.
 */

/** One ReAct step as the model writes it. */
export const ThoughtActionSchema = z.object({
  thought: z.string(),
  action: z.object({
    kind: z.enum(['tool', 'final']),
    /** The tool's name when kind is `tool`. */
    tool: z.string().nullable(),
    /** The tool's input: a JSON object encoded as a string, e.g. `{"expression":"6*7"}`. */
    input: z.string().nullable(),
    /** The final answer when kind is `final`. */
    answer: z.string().nullable(),
  }),
});
export type ThoughtAction = z.infer<typeof ThoughtActionSchema>;

/** The part of a Step the model decides; the loop adds the observation and timing. */
export type StepDecision = Pick<Step, 'thought' | 'action'>;

/** Converts a model step into the wire Step's thought and action, or says what to fix. */
export function toStepDecision(value: ThoughtAction): Refined<StepDecision> {
  const thought = truncate(value.thought, LIMITS.maxThoughtChars);
  const { action } = value;
  switch (action.kind) {
    case 'final': {
      if (action.answer === null || action.answer.trim() === '') {
        return { ok: false, problem: 'action.kind is "final" but action.answer is null or empty' };
      }
      return { ok: true, value: { thought, action: { type: 'final', answer: action.answer } } };
    }
    case 'tool': {
      if (action.tool === null || action.tool.trim() === '') {
        return { ok: false, problem: 'action.kind is "tool" but action.tool is null; name one of the tools' };
      }
      if (action.tool.length > 64) {
        return { ok: false, problem: 'action.tool is longer than 64 characters; name one of the tools' };
      }
      const input = parseToolInput(action.input);
      if (!input.ok) return input;
      return {
        ok: true,
        value: { thought, action: { type: 'tool', name: action.tool, input: input.value } },
      };
    }
    default: {
      const unreachable: never = action.kind;
      return unreachable;
    }
  }
}

function parseToolInput(input: string | null): Refined<unknown> {
  if (input === null || input.trim() === '') return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(input) };
  } catch (error) {
    return {
      ok: false,
      problem: `action.input must be a JSON object encoded as a string; it did not parse: ${(error as Error).message}`,
    };
  }
}

/** The auditor's verdict as the model writes it (model and promptVersion are added afterwards). */
export const LlmAuditReportSchema = z.object({
  passed: z.boolean(),
  score: z.number(),
  summary: z.string(),
  findings: z.array(z.string()),
  rework_suggestions: z.array(z.object({ taskId: z.string(), problem: z.string(), suggestion: z.string() })),
});
export type LlmAuditReport = z.infer<typeof LlmAuditReportSchema>;

/** A plan as the model writes it: `dependsOn` is required ([] when none) and there is no capability. */
export const LlmPlanSchema = z.object({
  tasks: z.array(
    z.object({
      id: z.string(),
      title: z.string(),
      instructions: z.string(),
      dependsOn: z.array(z.string()),
    }),
  ),
});
export type LlmPlan = z.infer<typeof LlmPlanSchema>;

/** The synthesis's single step: how the outputs were combined, and the final answer. */
export const LlmSynthesisSchema = z.object({ thought: z.string(), answer: z.string() });
export type LlmSynthesis = z.infer<typeof LlmSynthesisSchema>;
