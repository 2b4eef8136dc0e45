import { z } from 'zod';
import { TaskIdSchema } from './ids.ts';
import { LIMITS } from './limits.ts';

/** A task as a client or the planner describes it. */
export const TaskSpecSchema = z.object({
  id: TaskIdSchema,
  title: z.string().min(1).max(LIMITS.maxTitleChars),
  instructions: z.string().max(LIMITS.maxInstructionsChars),
  dependsOn: z.array(TaskIdSchema).max(LIMITS.maxDependsOn).optional(),
  /** Offered only to workers that list this capability. */
  capability: z.string().min(1).max(LIMITS.maxCapabilityChars).optional(),
});
export type TaskSpec = z.infer<typeof TaskSpecSchema>;

/** A validated plan: a DAG of tasks (acyclicity and references are checked by `validatePlan`). */
export const PlanSchema = z.object({
  tasks: z.array(TaskSpecSchema).min(1).max(LIMITS.maxTasksPerGraph),
});
export type Plan = z.infer<typeof PlanSchema>;
