import { AppError } from '../errors.ts';
import { describePlanProblem, TASK_ID_PATTERN, type TaskSpec, validatePlan } from '../protocol/index.ts';

/**
 * Checks a plan (submitted or made by the planner). A malformed plan (empty, too large, duplicate or
 * unknown ids) is AM_ERR_GRAPH_INVALID; a well-formed one whose edges loop (a task depending on itself
 * included) is AM_ERR_GRAPH_CYCLIC. Returns null when the plan is a valid DAG.
 */
export function checkPlan(tasks: readonly TaskSpec[]): AppError | null {
  // The schema already refuses these; checked again because a plan built in code skips the schema, and a
  // task named like the synthesis task would silently replace it.
  const badIds = tasks.filter((t) => !TASK_ID_PATTERN.test(t.id)).map((t) => t.id);
  if (badIds.length > 0) {
    return new AppError('AM_ERR_GRAPH_INVALID', `reserved or invalid task ids: ${badIds.join(', ')}`, {
      details: { problems: badIds.map((id) => `task id "${id}" is reserved or invalid`) },
    });
  }
  const problems = validatePlan(tasks);
  if (problems.length === 0) return null;
  const details = { problems: problems.map(describePlanProblem) };
  const detail = details.problems.join('; ');
  const cyclic = problems.every((p) => p.kind === 'cycle' || p.kind === 'self_dependency');
  return new AppError(cyclic ? 'AM_ERR_GRAPH_CYCLIC' : 'AM_ERR_GRAPH_INVALID', detail, { details });
}
