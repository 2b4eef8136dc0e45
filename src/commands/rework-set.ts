import type { GraphState } from '../events/index.ts';

/**
 * The tasks a failed audit resets: those it names plus everything that transitively depends on them,
 * work tasks only (the synthesis task is re-run after a later passed audit, never reworked), in plan
 * order so the event reads the same whoever computes it. Unknown ids are ignored; callers validate.
 */
export function reworkSet(state: GraphState, namedIds: Iterable<string>): string[] {
  const reached = new Set<string>();
  const queue: string[] = [];
  for (const id of namedIds) {
    if (state.tasks.get(id)?.kind === 'work' && !reached.has(id)) {
      reached.add(id);
      queue.push(id);
    }
  }
  for (let i = 0; i < queue.length; i++) {
    for (const dependent of state.dependents.get(queue[i]!) ?? []) {
      if (reached.has(dependent) || state.tasks.get(dependent)?.kind !== 'work') continue;
      reached.add(dependent);
      queue.push(dependent);
    }
  }
  return [...state.tasks.keys()].filter((id) => reached.has(id));
}
