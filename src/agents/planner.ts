import {
  describePlanProblem,
  LIMITS,
  PlanSchema,
  TASK_ID_PATTERN,
  type TaskSpec,
  type Usage,
  validatePlan,
} from '../protocol/index.ts';
import type { Refined, StructuredLlm } from './llm-client.ts';
import { type LlmPlan, LlmPlanSchema } from './llm-schemas.ts';
import { PROMPT_VERSION, plannerSystemPrompt, plannerUserPrompt } from './prompts.ts';

/** A validated DAG and who made it. */
export interface PlanOutcome {
  tasks: TaskSpec[];
  /** `offline` or the planner model's name. */
  model: string;
  promptVersion: string;
  usage: Usage;
}

export interface PlanDeps {
  llm: StructuredLlm;
  /** Largest plan accepted from the model. Default 12 (never above LIMITS.maxTasksPerGraph). */
  maxTasks?: number;
  signal?: AbortSignal;
}

export const DEFAULT_MAX_PLAN_TASKS = 12;

/** Asks the planner model for a DAG; a plan that is not one gets a corrective retry naming every problem. */
export async function plan(goal: string, deps: PlanDeps): Promise<PlanOutcome> {
  const maxTasks = Math.min(deps.maxTasks ?? DEFAULT_MAX_PLAN_TASKS, LIMITS.maxTasksPerGraph);
  const reply = await deps.llm.complete({
    role: 'planner',
    name: 'plan',
    schema: LlmPlanSchema,
    messages: [
      { role: 'system', content: plannerSystemPrompt(maxTasks) },
      { role: 'user', content: plannerUserPrompt(goal) },
    ],
    refine: (value) => checkPlan(value, maxTasks),
    ...(deps.signal ? { signal: deps.signal } : {}),
  });
  return { tasks: reply.value, model: reply.model, promptVersion: PROMPT_VERSION, usage: reply.usage };
}

export function checkPlan(value: LlmPlan, maxTasks: number): Refined<TaskSpec[]> {
  const problems: string[] = [];
  if (value.tasks.length > maxTasks) {
    problems.push(`the plan has ${value.tasks.length} tasks; at most ${maxTasks} are allowed`);
  }
  for (const task of value.tasks) {
    if (!TASK_ID_PATTERN.test(task.id)) {
      problems.push(
        `task id ${JSON.stringify(task.id)} is not allowed: ids are 1-64 characters of A-Z a-z 0-9 _ -, starting with a letter or digit`,
      );
    }
  }
  const tasks: TaskSpec[] = value.tasks.map((task) => ({
    id: task.id,
    title: task.title,
    instructions: task.instructions,
    ...(task.dependsOn.length > 0 ? { dependsOn: task.dependsOn } : {}),
  }));
  const parsed = PlanSchema.safeParse({ tasks });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      // Bad ids and the plan's size are described above or by validatePlan, in words the model can act on.
      if (issue.path.length <= 1 || issue.path.at(-1) === 'id' || issue.path.at(-2) === 'dependsOn') continue;
      problems.push(`${issue.path.join('.')}: ${issue.message}`);
    }
  }
  for (const problem of validatePlan(tasks)) problems.push(describePlanProblem(problem));
  if (problems.length > 0)
    return { ok: false, problem: `the plan is not a valid DAG: ${problems.join('; ')}` };
  return { ok: true, value: tasks };
}
