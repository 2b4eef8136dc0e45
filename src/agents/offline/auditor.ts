import { type AuditReport, fitAuditReport, type ReworkSuggestion } from '../../protocol/index.ts';
import type { AuditInput } from '../auditor.ts';
import {
  BAD_MARKER,
  BAD_ONCE_MARKER,
  keywords,
  OFFLINE_MODEL,
  OFFLINE_RULES_VERSION,
  wordSet,
} from './text.ts';

/** One failed check of one task. */
export interface OfflineFinding {
  taskId: string;
  rule: 'bad_marker' | 'empty_output' | 'ignores_instructions' | 'bad_once_marker';
  problem: string;
  suggestion: string;
}

/**
 * The offline auditor's checks, applied to every task (docs/offline-provider.md):
 *
 * (a) the output contains `[[BAD]]` (case-sensitive) → fails;
 * (b) the output is empty or whitespace only → fails;
 * (c) the output mentions none of the keywords of the task's title and instructions → fails
 *     (skipped when the title and instructions have no keyword, and for empty outputs);
 * (d) the output contains `[[BAD-ONCE]]` and the audit is of cycle 1 → fails.
 */
export function offlineFindings(task: AuditInput['tasks'][number], cycle: number): OfflineFinding[] {
  const findings: OfflineFinding[] = [];
  const { id, output } = task;
  if (output.includes(BAD_MARKER)) {
    findings.push({
      taskId: id,
      rule: 'bad_marker',
      problem: 'the output carries the known-bad marker',
      suggestion: 'redo the task from its instructions and produce an output without the bad marker',
    });
  }
  if (output.trim() === '') {
    findings.push({
      taskId: id,
      rule: 'empty_output',
      problem: 'the output is empty',
      suggestion: 'produce a complete, non-empty answer to the instructions',
    });
  } else {
    const expected = keywords(`${task.title} ${task.instructions}`);
    const words = wordSet(output);
    if (expected.length > 0 && !expected.some((word) => words.has(word))) {
      findings.push({
        taskId: id,
        rule: 'ignores_instructions',
        problem: `the output mentions none of the task's keywords (${expected.slice(0, 8).join(', ')}), so it ignores its instructions`,
        suggestion: `answer the task "${task.title}" as its instructions ask`,
      });
    }
  }
  if (output.includes(BAD_ONCE_MARKER) && cycle === 1) {
    findings.push({
      taskId: id,
      rule: 'bad_once_marker',
      problem: 'the output carries the bad-once marker (fails in cycle 1 only)',
      suggestion: 'rework the task once; the reworked output drops the marker',
    });
  }
  return findings;
}

/** A deterministic AuditReport from the checks above; model `offline`. */
export function offlineAudit(input: AuditInput): AuditReport {
  const perTask = input.tasks.map((task) => ({ task, findings: offlineFindings(task, input.cycle) }));
  const failed = perTask.filter((entry) => entry.findings.length > 0);
  const suggestions: ReworkSuggestion[] = failed.map(({ task, findings }) => ({
    taskId: task.id,
    problem: findings.map((f) => f.problem).join('; '),
    suggestion: findings.map((f) => f.suggestion).join('; '),
  }));
  const total = input.tasks.length;
  const passedCount = total - failed.length;
  return fitAuditReport({
    passed: failed.length === 0,
    score: total === 0 ? 1 : Math.round((passedCount / total) * 1000) / 1000,
    summary:
      failed.length === 0
        ? `Offline audit of cycle ${input.cycle}: all ${total} task outputs pass the offline checks.`
        : `Offline audit of cycle ${input.cycle}: ${failed.length} of ${total} task outputs fail the offline checks (${failed.map((f) => f.task.id).join(', ')}).`,
    findings: perTask.flatMap(({ task, findings }) =>
      findings.length === 0
        ? [`${task.id}: passes the offline checks`]
        : findings.map((f) => `${task.id}: ${f.rule}: ${f.problem}`),
    ),
    rework_suggestions: suggestions,
    model: OFFLINE_MODEL,
    promptVersion: OFFLINE_RULES_VERSION,
  });
}
