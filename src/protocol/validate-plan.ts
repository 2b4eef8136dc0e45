import { LIMITS } from './limits.ts';
import type { TaskSpec } from './task-spec.ts';

export type PlanProblem =
  | { kind: 'empty' }
  | { kind: 'too_large'; count: number }
  | { kind: 'duplicate_id'; taskId: string }
  | { kind: 'unknown_dependency'; taskId: string; dependsOn: string }
  | { kind: 'self_dependency'; taskId: string }
  | { kind: 'cycle'; path: string[] };

/**
 * Checks what a schema cannot: unique ids, dependencies that exist, no cycles, a bounded size.
 * Returns every problem found (empty when the plan is a valid DAG).
 */
export function validatePlan(tasks: readonly TaskSpec[]): PlanProblem[] {
  const problems: PlanProblem[] = [];
  if (tasks.length === 0) problems.push({ kind: 'empty' });
  if (tasks.length > LIMITS.maxTasksPerGraph) problems.push({ kind: 'too_large', count: tasks.length });
  const ids = new Set<string>();
  for (const task of tasks) {
    if (ids.has(task.id)) problems.push({ kind: 'duplicate_id', taskId: task.id });
    ids.add(task.id);
  }
  for (const task of tasks) {
    for (const dep of task.dependsOn ?? []) {
      if (dep === task.id) problems.push({ kind: 'self_dependency', taskId: task.id });
      else if (!ids.has(dep)) problems.push({ kind: 'unknown_dependency', taskId: task.id, dependsOn: dep });
    }
  }
  const cycle = findCycle(tasks);
  if (cycle) problems.push({ kind: 'cycle', path: cycle });
  return problems;
}

/** Iterative DFS (plans may be deep chains) returning one cycle as a path, or null. */
export function findCycle(tasks: readonly TaskSpec[]): string[] | null {
  const deps = new Map<string, readonly string[]>();
  for (const task of tasks) deps.set(task.id, task.dependsOn ?? []);
  const WHITE = 0;
  const GREY = 1;
  const BLACK = 2;
  const color = new Map<string, number>();
  for (const start of deps.keys()) {
    if ((color.get(start) ?? WHITE) !== WHITE) continue;
    const stack: { id: string; next: number }[] = [{ id: start, next: 0 }];
    color.set(start, GREY);
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      const children = deps.get(frame.id) ?? [];
      if (frame.next >= children.length) {
        color.set(frame.id, BLACK);
        stack.pop();
        continue;
      }
      const child = children[frame.next++]!;
      if (!deps.has(child) || child === frame.id) continue;
      const childColor = color.get(child) ?? WHITE;
      if (childColor === GREY) {
        const from = stack.findIndex((f) => f.id === child);
        return [...stack.slice(from).map((f) => f.id), child];
      }
      if (childColor === WHITE) {
        color.set(child, GREY);
        stack.push({ id: child, next: 0 });
      }
    }
  }
  return null;
}

export function describePlanProblem(problem: PlanProblem): string {
  switch (problem.kind) {
    case 'empty':
      return 'the plan has no tasks';
    case 'too_large':
      return `the plan has ${problem.count} tasks; at most ${LIMITS.maxTasksPerGraph} are allowed`;
    case 'duplicate_id':
      return `task id "${problem.taskId}" appears more than once`;
    case 'unknown_dependency':
      return `task "${problem.taskId}" depends on "${problem.dependsOn}", which is not in the plan`;
    case 'self_dependency':
      return `task "${problem.taskId}" depends on itself`;
    case 'cycle':
      return `dependency cycle: ${problem.path.join(' -> ')}`;
    default: {
      const unreachable: never = problem;
      return unreachable;
    }
  }
}
