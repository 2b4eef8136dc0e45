import { decideFailGraph } from '../commands/index.ts';
import { isAppError } from '../errors.ts';
import type { GraphState } from '../events/index.ts';
import { LIMITS, SYNTHESIS_TASK_ID } from '../protocol/index.ts';
import type { ManagerRuntime } from './manager-runtime.ts';
import type { GraphReconciler } from './reconciler.ts';

/**
 * A RUNNING or SYNTHESIZING graph with a FAILED task (attempts spent, or a non-retryable failure) cannot
 * finish: it fails with `task_failed` naming the tasks, or `synthesis_failed` when the synthesis task
 * failed. Both can be retried (POST /v1/graphs/:id/retry gives the failed tasks a new budget).
 */
export class TaskFailure implements GraphReconciler {
  readonly name = 'task-failure';
  constructor(private readonly rt: ManagerRuntime) {}

  candidates(): string[] {
    return this.rt.ctx.readModel.graphs.withFailedTaskIds();
  }

  reconcile(graph: GraphState): void {
    if (graph.status !== 'RUNNING' && graph.status !== 'SYNTHESIZING') return;
    const failed = [...graph.tasks.values()].filter((task) => task.status === 'FAILED').map((t) => t.id);
    if (failed.length === 0) return;
    const graphId = graph.id;
    const reason = failed.includes(SYNTHESIS_TASK_ID) ? 'synthesis_failed' : 'task_failed';
    this.rt.run(`fail-task:${graphId}`, graphId, async () => {
      const message = this.describe(graphId, failed);
      const outcome = await this.rt.command(graphId, (state, metadata) =>
        decideFailGraph(
          { type: 'FailGraph', data: { graphId, reason, message, tasks: failed }, metadata },
          state,
        ),
      );
      if (isAppError(outcome)) this.rt.refused(outcome, { graphId, reason }, 'FailGraph');
      else this.rt.log.info({ graphId, reason, tasks: failed }, 'graph failed');
    });
  }

  /** Names each failed task with the error of its last result, so the graph says why it failed. */
  private describe(graphId: string, failed: readonly string[]): string {
    const latest = this.rt.ctx.readModel.results.latestOf(graphId);
    const parts = failed.map((taskId) => {
      const error = latest.get(taskId)?.error;
      return error ? `${taskId} (${error.code ? `${error.code}: ` : ''}${error.message})` : taskId;
    });
    return `failed: ${parts.join('; ')}`.slice(0, LIMITS.maxErrorMessageChars);
  }
}
