import type { GraphState } from '../events/index.ts';

/**
 * Graph aggregates held in memory, least recently used evicted first. The read model on disk is the
 * source of truth: an evicted graph is loaded back from its rows.
 */
export class GraphCache {
  private readonly states = new Map<string, GraphState>();
  /** Already last in LRU order: a replay hits the same graph event after event, so skip the reorder. */
  private mostRecent: string | null = null;

  constructor(
    private readonly capacity: number,
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
    if (this.states.size > this.capacity) {
      const oldest = this.states.keys().next().value;
      if (oldest !== undefined) this.states.delete(oldest);
    }
  }

  clear(): void {
    this.states.clear();
    this.mostRecent = null;
  }
}
