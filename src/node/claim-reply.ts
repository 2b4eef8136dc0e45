import type { GraphState, TaskState } from '../events/index.ts';
import type { ResultsProjection } from '../projections/index.ts';
import type { ClaimContext, ClaimReply } from '../protocol/index.ts';

/**
 * What a worker needs besides the task: the goal, its dependencies' outputs and, on rework, the
 * auditor's notes and the task's previous output.
 */
export function claimContext(results: ResultsProjection, state: GraphState, task: TaskState): ClaimContext {
  const dependencies = task.dependsOn.map((depId) => ({
    taskId: depId,
    output: results.latestCompletedOf(state.id, depId)?.output ?? '',
  }));
  const context: ClaimContext = { goal: state.goal, dependencies };
  const rework = reworkNotes(state, task);
  if (rework !== null) {
    context.rework = {
      notes: rework,
      previousOutput: results.latestCompletedOf(state.id, task.id)?.output ?? null,
    };
  }
  return context;
}

/** The auditor's words about this task from the failed audit that sent it back, or null. */
function reworkNotes(state: GraphState, task: TaskState): string | null {
  if (task.kind !== 'work' || task.cycle <= 1) return null;
  const audit = [...state.audits]
    .reverse()
    .find((a) => !a.passed && a.cycle < task.cycle && a.rework.includes(task.id));
  if (!audit) return null;
  const own = audit.report.rework_suggestions.filter((s) => s.taskId === task.id);
  if (own.length > 0) {
    return own.map((s) => `Problem: ${s.problem}\nSuggestion: ${s.suggestion}`).join('\n\n');
  }
  const named = audit.report.rework_suggestions
    .map((s) => s.taskId)
    .filter((id) => task.dependsOn.includes(id));
  const because = named.length > 0 ? named.join(', ') : 'an upstream task';
  return `Re-run because ${because} was reworked after the audit of cycle ${audit.cycle}: ${audit.report.summary}`;
}

export function claimReply(
  results: ResultsProjection,
  state: GraphState,
  task: TaskState,
  claim: { token: string; attempt: number; leaseUntil: number },
  traceparent?: string,
): ClaimReply {
  const reply: ClaimReply = {
    task: {
      id: task.id,
      graphId: state.id,
      title: task.title,
      instructions: task.instructions,
      kind: task.kind,
      attempt: claim.attempt,
      cycle: state.cycle,
    },
    claimToken: claim.token,
    leaseUntil: new Date(claim.leaseUntil).toISOString(),
    leaseMs: state.options.leaseMs,
    context: claimContext(results, state, task),
  };
  if (traceparent !== undefined) reply.traceparent = traceparent;
  return reply;
}
