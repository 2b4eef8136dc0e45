import type Database from 'better-sqlite3';
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
  private readonly completable: Database.Statement<[], { id: string }>;

  constructor(private readonly rt: ManagerRuntime) {
    this.completable = rt.ctx.readModel.db.prepare(
      `SELECT g.id FROM graphs g
       WHERE g.status = 'RUNNING' AND g.completed_cycle < g.cycle
         AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.graph_id = g.id AND t.kind = 'work' AND t.status <> 'COMPLETED')`,
    );
  }

  candidates(): string[] {
    return this.completable.all().map((row) => row.id);
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
