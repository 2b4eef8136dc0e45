/**
 * The random task graphs of bench:makespan, shared by the AM side and the BullMQ driver so both run the
 * very same DAGs: a seeded PRNG, a layered DAG, its critical path (the makespan's lower bound with
 * unlimited workers and zero overhead) and the most tasks that ever run at once in that ideal schedule.
 */

export interface DagTask {
  id: string;
  durationMs: number;
  dependsOn: string[];
}

export interface Dag {
  tasks: DagTask[];
  /** Longest path through the DAG, summing durations (ms). */
  criticalPathMs: number;
  /** Tasks on that path. */
  criticalPathTasks: number;
  /** Most tasks running at once when every task starts as soon as its dependencies end. */
  idealWidth: number;
}

/** mulberry32: small, fast, and the same sequence on every machine for a seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * `size` tasks in `layers` layers of (nearly) equal size; a task of layer L > 0 depends on 0-3 distinct
 * tasks of layer L-1 (the usual layered generator: edges join adjacent layers), so depth is at most
 * `layers`, and a later task that drew 0 dependencies is a root too.
 * Durations are uniform integers in [minMs, maxMs].
 */
export function randomLayeredDag(
  random: () => number,
  size: number,
  layers: number,
  minMs: number,
  maxMs: number,
): Dag {
  const integer = (low: number, high: number) => low + Math.floor(random() * (high - low + 1));
  const perLayer = Math.ceil(size / layers);
  const tasks: DagTask[] = [];
  for (let i = 0; i < size; i++) {
    const layerStart = Math.floor(i / perLayer) * perLayer;
    const previousStart = Math.max(0, layerStart - perLayer);
    const wanted = layerStart === 0 ? 0 : Math.min(layerStart - previousStart, integer(0, 3));
    const picks = new Set<number>();
    while (picks.size < wanted) picks.add(integer(previousStart, layerStart - 1));
    tasks.push({
      id: `t${i}`,
      durationMs: integer(minMs, maxMs),
      dependsOn: [...picks].sort((a, b) => a - b).map((p) => `t${p}`),
    });
  }
  return { tasks, ...idealSchedule(tasks) };
}

function idealSchedule(tasks: readonly DagTask[]): Omit<Dag, 'tasks'> {
  const finish = new Map<string, number>();
  const depth = new Map<string, number>();
  const intervals: Array<[number, number]> = [];
  // Tasks come in topological order (dependencies point to earlier indexes).
  for (const task of tasks) {
    const start = Math.max(0, ...task.dependsOn.map((d) => finish.get(d) ?? 0));
    finish.set(task.id, start + task.durationMs);
    depth.set(task.id, 1 + Math.max(0, ...task.dependsOn.map((d) => depth.get(d) ?? 0)));
    intervals.push([start, start + task.durationMs]);
  }
  const criticalPathMs = Math.max(...finish.values());
  const last = tasks.find((t) => finish.get(t.id) === criticalPathMs);
  const edges = intervals.flatMap(([start, end]) => [
    [start, 1],
    [end, -1],
  ]);
  // Ends before starts at the same instant: a task ending at t frees its slot for one starting at t.
  edges.sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0) || (a[1] ?? 0) - (b[1] ?? 0));
  let running = 0;
  let idealWidth = 0;
  for (const [, delta] of edges) {
    running += delta ?? 0;
    idealWidth = Math.max(idealWidth, running);
  }
  return { criticalPathMs, criticalPathTasks: last ? (depth.get(last.id) ?? 0) : 0, idealWidth };
}

/** Each task's dependents (the reverse edges), for a driver that releases tasks as they become ready. */
export function dependentsOf(tasks: readonly DagTask[]): Map<string, string[]> {
  const dependents = new Map<string, string[]>(tasks.map((t) => [t.id, []]));
  for (const task of tasks) for (const dep of task.dependsOn) dependents.get(dep)?.push(task.id);
  return dependents;
}
