import { z } from 'zod';
import { LIMITS } from './limits.ts';
import { UsageSchema } from './result.ts';

export const ReworkSuggestionSchema = z.object({
  taskId: z.string().min(1).max(64),
  problem: z.string().max(LIMITS.maxReportTextChars),
  suggestion: z.string().max(LIMITS.maxReportTextChars),
});
export type ReworkSuggestion = z.infer<typeof ReworkSuggestionSchema>;

/** The auditor's verdict over a whole graph cycle. */
export const AuditReportSchema = z.object({
  passed: z.boolean(),
  score: z.number().min(0).max(1),
  summary: z.string().max(LIMITS.maxReportTextChars),
  findings: z.array(z.string().max(LIMITS.maxReportTextChars)).max(200),
  rework_suggestions: z.array(ReworkSuggestionSchema).max(LIMITS.maxTasksPerGraph),
  /** Which auditor produced it (`offline` or a model name) and with which prompt version. */
  model: z.string().max(200).optional(),
  promptVersion: z.string().max(64).optional(),
  /** Tokens the audit's LLM calls used (corrective retries included); absent for the offline auditor. */
  usage: UsageSchema.optional(),
});
export type AuditReport = z.infer<typeof AuditReportSchema>;
