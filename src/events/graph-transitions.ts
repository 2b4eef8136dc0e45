import { SYNTHESIS_TASK_ID, type TaskSpec } from '../protocol/index.ts';
import type { Applied, GraphState, TaskState } from './graph-state.ts';

// The transitions the graph and task parts of the fold share: planning a graph's tasks, deriving READY,
// the synthesis task, a rework.

export function plan(
  state: GraphState,
  specs: readonly TaskSpec[],
  seq: number,
  at: string,
  applied: Applied,
): void {
  state.status = 'RUNNING';
  state.cycle = 1;
  state.planning = null;
  const workIds: string[] = [];
  for (const spec of specs) {
    state.tasks.set(
      spec.id,
      newTask(spec.id, 'work', spec.title, spec.instructions, spec.dependsOn ?? [], spec.capability ?? null),
    );
    workIds.push(spec.id);
    for (const dep of spec.dependsOn ?? []) {
      const list = state.dependents.get(dep);
      if (list) list.push(spec.id);
      else state.dependents.set(dep, [spec.id]);
    }
  }
  // The synthesis task is part of every planned graph; its readiness comes from a passed audit, not from edges.
  state.tasks.set(
    SYNTHESIS_TASK_ID,
    newTask(
      SYNTHESIS_TASK_ID,
      'synthesis',
      'Synthesize the final answer',
      state.goal,
      workIds,
      state.options.synthesisCapability ?? null,
    ),
  );
  for (const task of state.tasks.values()) {
    applied.tasks.add(task.id);
    deriveReady(state, task, seq, at, applied);
  }
}

function newTask(
  id: string,
  kind: TaskState['kind'],
  title: string,
  instructions: string,
  dependsOn: readonly string[],
  capability: string | null,
): TaskState {
  return {
    id,
    kind,
    title,
    instructions,
    dependsOn,
    capability,
    status: 'PENDING',
    attempts: 0,
    cycle: 1,
    completedCycle: null,
    claim: null,
    availableAt: 0,
    readySeq: 0,
    lastSeq: 0,
    lastResult: null,
  };
}

/** A PENDING work task becomes READY when every dependency is COMPLETED in the current cycle. */
export function deriveReady(
  state: GraphState,
  task: TaskState,
  seq: number,
  at: string,
  applied: Applied,
): void {
  if (task.status !== 'PENDING' || task.kind !== 'work' || state.status !== 'RUNNING') return;
  for (const depId of task.dependsOn) {
    if (state.tasks.get(depId)?.status !== 'COMPLETED') return;
  }
  task.status = 'READY';
  task.readySeq = seq;
  task.availableAt = Date.parse(at);
  applied.tasks.add(task.id);
}

export function makeSynthesisReady(state: GraphState, seq: number, at: string, applied: Applied): void {
  const synthesis = state.tasks.get(SYNTHESIS_TASK_ID);
  if (!synthesis) return;
  synthesis.status = 'READY';
  synthesis.cycle = state.cycle;
  synthesis.attempts = 0;
  synthesis.claim = null;
  synthesis.readySeq = seq;
  synthesis.availableAt = Date.parse(at);
  applied.tasks.add(synthesis.id);
}

/** Resets exactly the rework set to PENDING for the next cycle; untouched tasks keep their results. */
export function rework(
  state: GraphState,
  ids: readonly string[],
  seq: number,
  at: string,
  applied: Applied,
): void {
  state.cycle += 1;
  state.status = 'RUNNING';
  for (const id of ids) {
    const task = state.tasks.get(id);
    if (task?.kind !== 'work') continue;
    task.status = 'PENDING';
    task.cycle = state.cycle;
    task.attempts = 0;
    task.claim = null;
    applied.tasks.add(id);
  }
  for (const id of ids) {
    const task = state.tasks.get(id);
    if (task) deriveReady(state, task, seq, at, applied);
  }
}
