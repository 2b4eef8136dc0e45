import { decideCompleteCycle, isCycleComplete } from '../commands/index.ts';
import { isAppError } from '../errors.ts';
import type { GraphState } from '../events/index.ts';
import type { ManagerRuntime } from './manager-runtime.ts';
import type { GraphReconciler } from './reconciler.ts';

/**
 * A RUNNING graph whose every work task is COMPLETED in the current cycle, with no GraphCompleted for it,
 * gets one: CompleteCycle's shared msgID (`complete:<graph>:<cycle>`) and expected sequence make it
 * exactly one event per cycle, however many managers try.
 */
export class CycleCompletion implements GraphReconciler {
  readonly name = 'cycle-completion';
  constructor(private readonly rt: ManagerRuntime) {}

  candidates(): string[] {
    return this.rt.ctx.readModel.graphs.completableIds();
  }

  reconcile(graph: GraphState): void {
    if (!isCycleComplete(graph)) return;
    const { id: graphId, cycle } = graph;
    this.rt.run(`complete:${graphId}`, graphId, async () => {
      const outcome = await this.rt.command(graphId, (state, metadata) =>
        decideCompleteCycle({ type: 'CompleteCycle', data: { graphId, cycle }, metadata }, state),
      );
      if (isAppError(outcome)) this.rt.refused(outcome, { graphId, cycle }, 'CompleteCycle');
      else this.rt.log.info({ graphId, cycle, seq: outcome.seq }, 'cycle completed');
    });
  }
}
