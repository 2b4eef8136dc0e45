import { type GraphState, isDispatching } from '../events/index.ts';
import type { ClaimIndex } from './claim-index.ts';
import type { ReadyIndex } from './ready-index.ts';
import type { TasksProjection } from './tasks-projection.ts';

/**
 * The in-memory indexes a projector keeps in step with the committed task rows: current claims (by
 * request and by token, for claim idempotency) and, in a process that hands out work, the READY index
 * claims take candidates from. Loaded from the rows when the projector starts, then updated per batch.
 */
export class LiveIndexes {
  constructor(
    private readonly tasks: TasksProjection,
    readonly claims: ClaimIndex,
    private readonly ready: ReadyIndex | undefined,
  ) {}

  load(): void {
    this.claims.clear();
    for (const row of this.tasks.claimedRows()) {
      this.claims.set(row.graph_id, row.id, {
        agentId: row.assignee ?? '',
        requestId: row.claim_request_id ?? '',
        token: row.claim_token,
      });
    }
    const ready = this.ready;
    if (!ready) return;
    ready.clear();
    for (const row of this.tasks.dispatchableReadyRows()) {
      ready.upsert({
        graphId: row.graph_id,
        taskId: row.id,
        priority: row.priority,
        readySeq: row.ready_seq,
        availableAt: row.available_at,
        capability: row.capability,
      });
    }
  }

  /** Follows the tasks a batch changed (their graphs' states as the batch left them). */
  update(
    graphs: ReadonlyMap<string, GraphState>,
    tasks: ReadonlyArray<{ graphId: string; taskId: string }>,
  ): void {
    const ready = this.ready;
    for (const { graphId, taskId } of tasks) {
      const state = graphs.get(graphId);
      const task = state?.tasks.get(taskId);
      this.claims.set(graphId, taskId, task?.status === 'CLAIMED' ? task.claim : null);
      if (!ready) continue;
      if (state && task?.status === 'READY' && isDispatching(state)) {
        const entry = {
          graphId,
          taskId,
          priority: state.options.priority,
          readySeq: task.readySeq,
          availableAt: task.availableAt,
          capability: task.capability,
        };
        ready.upsert(entry);
        // Still READY after a change: a claim this node reserved it for was void (its agent was revoked
        // before it was stored), so it is offered again at once. Any other claim still in flight is
        // decided by its expected sequence, which this change has moved on.
        ready.unreserve(entry);
      } else {
        ready.remove(graphId, taskId);
      }
    }
  }

  clear(): void {
    this.claims.clear();
    this.ready?.clear();
  }
}
