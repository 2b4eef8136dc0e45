import type { GraphState } from '../events/index.ts';

/** What the cache may hold: graphs and, since one graph can have thousands, their tasks in all. */
export interface GraphCacheBudget {
  graphs: number;
  tasks: number;
}

export const DEFAULT_GRAPH_CACHE_BUDGET: GraphCacheBudget = { graphs: 1_000, tasks: 20_000 };

/**
 * Graph aggregates held in memory, least recently used evicted first. The read model on disk is the
 * source of truth: an evicted graph is loaded back from its rows.
 *
 * Nothing is evicted while a batch is being folded (`set` only adds): a graph evicted mid-batch would be
 * loaded back from rows its own batch has not written yet. The fold calls `trim()` once the batch's rows
 * are written. The budget counts tasks, not only graphs: finished graphs of a few hundred tasks each
 * would otherwise keep hundreds of MB of task state that nothing reads again.
 */
export class GraphCache {
  private readonly states = new Map<string, GraphState>();
  /** Task count of each cached graph as of its last `set` (a graph's tasks are fixed once planned). */
  private readonly sizes = new Map<string, number>();
  private tasks = 0;
  /** Already last in LRU order: a replay hits the same graph event after event, so skip the reorder. */
  private mostRecent: string | null = null;

  constructor(
    private readonly budget: GraphCacheBudget,
    private readonly load: (graphId: string) => GraphState | null,
  ) {}

  get(graphId: string): GraphState | null {
    const cached = this.states.get(graphId);
    if (cached) {
      if (this.mostRecent !== graphId) {
        this.states.delete(graphId);
        this.states.set(graphId, cached);
        this.mostRecent = graphId;
      }
      return cached;
    }
    const loaded = this.load(graphId);
    if (loaded) this.set(loaded);
    return loaded;
  }

  set(state: GraphState): void {
    this.states.delete(state.id);
    this.states.set(state.id, state);
    this.mostRecent = state.id;
    this.tasks += state.tasks.size - (this.sizes.get(state.id) ?? 0);
    this.sizes.set(state.id, state.tasks.size);
  }

  /** Evicts the least recently used graphs until the budget holds; the most recent one always stays. */
  trim(): void {
    while (
      this.states.size > 1 &&
      (this.states.size > this.budget.graphs || this.tasks > this.budget.tasks)
    ) {
      const oldest = this.states.keys().next().value;
      if (oldest === undefined) break;
      this.states.delete(oldest);
      this.tasks -= this.sizes.get(oldest) ?? 0;
      this.sizes.delete(oldest);
    }
  }

  /** Tasks of the cached graphs, in all. */
  get taskCount(): number {
    return this.tasks;
  }

  get size(): number {
    return this.states.size;
  }

  clear(): void {
    this.states.clear();
    this.sizes.clear();
    this.tasks = 0;
    this.mostRecent = null;
  }
}
