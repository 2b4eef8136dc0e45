import { type AuditReport, AuditReportSchema, fitAuditReport, LIMITS } from '../protocol/index.ts';
import type { Refined, StructuredLlm } from './llm-client.ts';
import { type LlmAuditReport, LlmAuditReportSchema } from './llm-schemas.ts';
import { AUDITOR_SYSTEM_PROMPT, auditUserPrompt, PROMPT_VERSION } from './prompts.ts';

/** What the auditor reviews: every work task of one cycle with its latest output. */
export interface AuditInput {
  goal: string;
  cycle: number;
  tasks: { id: string; title: string; instructions: string; dependsOn: string[]; output: string }[];
}

export interface RunAuditDeps {
  llm: StructuredLlm;
  signal?: AbortSignal;
}

/**
 * Reviews a whole cycle and returns an AuditReport. Besides the schema, a report must be coherent:
 * suggestions name only tasks of this graph, a failed audit names at least one task and a passed
 * one none; otherwise the model gets a corrective retry saying exactly that.
 */
export async function runAudit(input: AuditInput, deps: RunAuditDeps): Promise<AuditReport> {
  const model = deps.llm.modelFor('auditor');
  const reply = await deps.llm.complete({
    role: 'auditor',
    name: 'audit_report',
    schema: LlmAuditReportSchema,
    messages: [
      { role: 'system', content: AUDITOR_SYSTEM_PROMPT },
      { role: 'user', content: auditUserPrompt(input) },
    ],
    refine: (value) => checkAuditReport(value, input, model),
    ...(deps.signal ? { signal: deps.signal } : {}),
  });
  return { ...reply.value, usage: reply.usage };
}

export function checkAuditReport(
  value: LlmAuditReport,
  input: AuditInput,
  model: string,
): Refined<AuditReport> {
  const validIds = input.tasks.map((task) => task.id);
  const known = new Set(validIds);
  const problems: string[] = [];
  const unknown = value.rework_suggestions.map((s) => s.taskId).filter((id) => !known.has(id));
  if (unknown.length > 0) {
    problems.push(
      `rework_suggestions name unknown task ids: ${[...new Set(unknown)].join(', ')}. Valid task ids are: ${validIds.join(', ')}`,
    );
  }
  if (!value.passed && value.rework_suggestions.length === 0) {
    problems.push('passed is false but rework_suggestions is empty: name at least one task to rework');
  }
  if (value.passed && value.rework_suggestions.length > 0) {
    problems.push('passed is true but rework_suggestions is not empty: a passed audit suggests no rework');
  }
  // A long list of findings is not the model's mistake: it is cut to fit, not sent back for a retry.
  const findings =
    value.findings.length > LIMITS.maxFindings ? value.findings.slice(0, LIMITS.maxFindings) : value.findings;
  const report = AuditReportSchema.safeParse({ ...value, findings, model, promptVersion: PROMPT_VERSION });
  if (!report.success) {
    for (const issue of report.error.issues) problems.push(`${issue.path.join('.')}: ${issue.message}`);
  }
  if (problems.length > 0 || !report.success) return { ok: false, problem: problems.join('; ') };
  return { ok: true, value: fitAuditReport(report.data) };
}
