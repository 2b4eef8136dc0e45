import { decideSucceedGraph } from '../commands/index.ts';
import { isAppError } from '../errors.ts';
import type { GraphState } from '../events/index.ts';
import { SYNTHESIS_TASK_ID } from '../protocol/index.ts';
import type { ManagerRuntime } from './manager-runtime.ts';
import type { GraphReconciler } from './reconciler.ts';

/** A SYNTHESIZING graph whose synthesis task has COMPLETED succeeds with that task's output. */
export class SynthesisCompletion implements GraphReconciler {
  readonly name = 'synthesis-completion';
  constructor(private readonly rt: ManagerRuntime) {}

  candidates(): string[] {
    return this.rt.ctx.readModel.graphs.synthesizedIds(SYNTHESIS_TASK_ID);
  }

  reconcile(graph: GraphState): void {
    if (graph.status !== 'SYNTHESIZING') return;
    if (graph.tasks.get(SYNTHESIS_TASK_ID)?.status !== 'COMPLETED') return;
    const graphId = graph.id;
    this.rt.run(`succeed:${graphId}`, graphId, async () => {
      // The synthesis runs once per graph (after the one passed audit), so its latest completion is it.
      const result = this.rt.ctx.readModel.results.latestCompletedOf(graphId, SYNTHESIS_TASK_ID);
      if (result?.output == null) {
        this.rt.log.warn(
          { graphId },
          'the synthesis task is COMPLETED but its result is not in the read model',
        );
        return;
      }
      const output = result.output;
      const outcome = await this.rt.command(graphId, (state, metadata) =>
        decideSucceedGraph({ type: 'SucceedGraph', data: { graphId, output }, metadata }, state),
      );
      if (isAppError(outcome)) this.rt.refused(outcome, { graphId }, 'SucceedGraph');
      else if (!outcome.noop) this.rt.log.info({ graphId, seq: outcome.seq }, 'graph succeeded');
    });
  }
}
