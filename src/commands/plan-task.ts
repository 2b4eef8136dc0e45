import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { GraphState } from '../events/index.ts';
import {
  GraphIdSchema,
  type GraphOptions,
  GraphOptionsSchema,
  LIMITS,
  type TaskSpec,
  TaskSpecSchema,
} from '../protocol/index.ts';
import { commandSchema } from './command.ts';
import type { Decision } from './decision.ts';
import { graphRef } from './guards.ts';
import { checkPlan } from './plan-validation.ts';

export const PlanTaskSchema = commandSchema(
  'PlanTask',
  z.object({
    /** Made by the API: a UUID, or UUIDv5(agentId, idempotencyKey) so a late repeat finds the graph. */
    graphId: GraphIdSchema,
    goal: z.string().min(1).max(LIMITS.maxGoalChars),
    /** Given: the graph is explicit and planned on submission; absent: the planner makes the plan. */
    tasks: z.array(TaskSpecSchema).max(LIMITS.maxTasksPerGraph).optional(),
    options: GraphOptionsSchema.optional(),
    idempotencyKey: z.string().min(1).max(LIMITS.maxIdempotencyKeyChars).optional(),
  }),
);
/** The input type: callers may leave option defaults out; the decider applies them. */
export type PlanTask = z.input<typeof PlanTaskSchema>;

/**
 * Submits a graph. A repeat of the same submission (same submitter, same idempotency key, same goal,
 * tasks and options) answers with the original GraphSubmitted; any other submission under an existing
 * id is refused, so a reused key never silently drops a different request (as Stripe's keys work).
 */
export function decidePlanTask(command: PlanTask, state: GraphState | null): Decision | AppError {
  const { graphId, goal, tasks, idempotencyKey } = command.data;
  const options = GraphOptionsSchema.safeParse(command.data.options ?? {});
  if (state !== null) {
    const key = idempotencyKey ?? null;
    if (key !== null && state.idempotencyKey === key && state.submittedBy === command.metadata.actor) {
      if (options.success && sameSubmission(state, goal, tasks, options.data)) {
        return { kind: 'noop', seq: state.submittedSeq };
      }
      return new AppError(
        'AM_ERR_GRAPH_EXISTS',
        `idempotencyKey ${key} was already used for a different submission (graph ${graphId}); use a new key`,
        { details: { graphId, field: 'idempotencyKey' } },
      );
    }
    return new AppError('AM_ERR_GRAPH_EXISTS', `graph ${graphId} already exists`, { details: { graphId } });
  }
  if (!options.success) {
    const issue = options.error.issues[0];
    const field = ['options', ...(issue?.path ?? [])].join('.');
    return new AppError('AM_ERR_VALIDATION', `${field}: ${issue?.message ?? 'invalid'}`, {
      details: { field },
    });
  }
  if (tasks !== undefined) {
    const invalid = checkPlan(tasks);
    if (invalid) return invalid;
  }
  return {
    kind: 'append',
    to: graphRef(graphId),
    expectedSeq: 0,
    msgId: `submit:${graphId}`,
    event: {
      type: 'GraphSubmitted',
      graphId,
      data: { goal, tasks: tasks ?? null, options: options.data, idempotencyKey: idempotencyKey ?? null },
    },
  };
}

/** Whether a repeated submission asks for what the graph was submitted with. */
function sameSubmission(
  state: GraphState,
  goal: string,
  tasks: readonly TaskSpec[] | undefined,
  options: GraphOptions,
): boolean {
  if (state.goal !== goal || state.explicit !== (tasks !== undefined)) return false;
  const stored = state.options;
  if (
    stored.maxReworkCycles !== options.maxReworkCycles ||
    stored.maxAttempts !== options.maxAttempts ||
    stored.leaseMs !== options.leaseMs ||
    stored.timeoutMs !== options.timeoutMs ||
    stored.priority !== options.priority
  ) {
    return false;
  }
  if (tasks === undefined) return true;
  const work = [...state.tasks.values()].filter((task) => task.kind === 'work');
  if (work.length !== tasks.length) return false;
  return tasks.every((spec, i) => {
    const task = work[i];
    return (
      task !== undefined &&
      task.id === spec.id &&
      task.title === spec.title &&
      task.instructions === spec.instructions &&
      (task.capability ?? undefined) === (spec.capability ?? undefined) &&
      task.dependsOn.join('\u0000') === (spec.dependsOn ?? []).join('\u0000')
    );
  });
}
