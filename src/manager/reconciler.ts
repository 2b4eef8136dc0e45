import type { GraphState } from '../events/index.ts';

/**
 * One controller of the manager. The manager calls `reconcile` for every graph a projected batch touched
 * (edge) and for every graph `candidates` names at start and on each interval (level).
 */
export interface GraphReconciler {
  readonly name: string;
  /** The graphs that may need this reconciler now, from an indexed read-model query. */
  candidates(): string[];
  /**
   * Looks at one graph as the local projection holds it and starts what it needs through the runtime.
   * Synchronous: it reads `graph` only now, since the projector keeps changing it in place.
   */
  reconcile(graph: GraphState): void;
}
