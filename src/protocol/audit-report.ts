import { z } from 'zod';
import { LIMITS } from './limits.ts';
import { UsageSchema } from './result.ts';
import { truncate } from './truncate.ts';

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
  findings: z.array(z.string().max(LIMITS.maxReportTextChars)).max(LIMITS.maxFindings),
  rework_suggestions: z.array(ReworkSuggestionSchema).max(LIMITS.maxTasksPerGraph),
  /** Which auditor produced it (`offline` or a model name) and with which prompt version. */
  model: z.string().max(200).optional(),
  promptVersion: z.string().max(64).optional(),
  /** Tokens the audit's LLM calls used (corrective retries included); absent for the offline auditor. */
  usage: UsageSchema.optional(),
});
export type AuditReport = z.infer<typeof AuditReportSchema>;

const encoder = new TextEncoder();

/**
 * Makes a report fit its event: at most `maxFindings` findings (the rest summed up in one line), and
 * texts cut (with a note saying so) until the encoded report is within `maxBytes`. An auditor of a
 * large graph writes a line per task, and a report too large to append would fail the audit itself.
 * Verdict, score and the task ids of the suggestions are never changed.
 */
export function fitAuditReport(
  report: AuditReport,
  maxBytes: number = LIMITS.maxAuditReportBytes,
): AuditReport {
  let fitted = report;
  if (fitted.findings.length > LIMITS.maxFindings) {
    const kept = fitted.findings.slice(0, LIMITS.maxFindings - 1);
    const omitted = fitted.findings.length - kept.length;
    fitted = { ...fitted, findings: [...kept, `[… ${omitted} more findings omitted]`] };
  }
  let textCap: number = LIMITS.maxReportTextChars;
  while (encoder.encode(JSON.stringify(fitted)).byteLength > maxBytes && textCap > 16) {
    textCap = Math.floor(textCap / 2);
    fitted = {
      ...fitted,
      summary: truncate(fitted.summary, textCap),
      findings: fitted.findings.map((finding) => truncate(finding, textCap)),
      rework_suggestions: fitted.rework_suggestions.map((s) => ({
        ...s,
        problem: truncate(s.problem, textCap),
        suggestion: truncate(s.suggestion, textCap),
      })),
    };
  }
  return fitted;
}
