import type { DomainEvent, EventOf } from './domain-event.ts';
import type { FoldContext } from './fold-context.ts';
import type { Applied, GraphState, TaskState } from './graph-state.ts';
import { isDispatching } from './graph-state.ts';
import { deriveReady } from './graph-transitions.ts';

/** The events of a task's subjects (its own and its progress). */
export type TaskEvent = EventOf<
  | 'TaskClaimed'
  | 'TaskLeaseExtended'
  | 'TaskReleased'
  | 'TaskCompleted'
  | 'TaskAttemptFailed'
  | 'TaskLeaseExpired'
  | 'TaskFailed'
  | 'TaskCancelled'
  | 'TaskProgressed'
>;

/**
 * The task part of the graph fold (see evolveGraph): claims, leases, results, failures. Returns the
 * anomaly the event was by rule, or null.
 */
export function applyTaskEvent(
  state: GraphState,
  event: TaskEvent,
  seq: number,
  applied: Applied,
  context: FoldContext,
): string | null {
  switch (event.type) {
    case 'TaskClaimed':
      return onTask(state, event, seq, applied, (task) => {
        const revokedSeq = context.revokedSeq(event.data.agentId);
        if (revokedSeq !== null && revokedSeq < seq) return 'revoked_agent';
        if (task.status !== 'READY' || !isDispatching(state)) return 'void_claim';
        task.status = 'CLAIMED';
        task.claim = {
          token: String(seq),
          agentId: event.data.agentId,
          requestId: event.data.requestId,
          attempt: event.data.attempt,
          claimedAt: Date.parse(event.at),
          leaseUntil: event.data.leaseUntil,
        };
        return null;
      });
    case 'TaskLeaseExtended':
      return onTask(state, event, seq, applied, (task) => {
        if (!holds(task, event.data.claimToken)) return 'stale_claim';
        task.claim!.leaseUntil = event.data.leaseUntil;
        return null;
      });
    case 'TaskReleased':
      return onTask(state, event, seq, applied, (task) => {
        if (!holds(task, event.data.claimToken)) return 'stale_claim';
        backToReady(task, seq, Date.parse(event.at));
        return null;
      });
    case 'TaskCompleted':
      return onTask(state, event, seq, applied, (task) => {
        if (!holds(task, event.data.claimToken)) return 'stale_claim';
        task.lastResult = resultOf(task, event.data.claimToken, seq);
        task.status = 'COMPLETED';
        task.claim = null;
        task.completedCycle = state.cycle;
        for (const dependentId of state.dependents.get(task.id) ?? []) {
          const dependent = state.tasks.get(dependentId);
          if (dependent) deriveReady(state, dependent, seq, event.at, applied);
        }
        return null;
      });
    case 'TaskAttemptFailed':
      return onTask(state, event, seq, applied, (task) => {
        if (!holds(task, event.data.claimToken)) return 'stale_claim';
        task.attempts += 1;
        task.lastResult = resultOf(task, event.data.claimToken, seq);
        backToReady(task, seq, event.data.retryAt);
        return null;
      });
    case 'TaskLeaseExpired':
      return onTask(state, event, seq, applied, (task) => {
        if (!holds(task, event.data.claimToken)) return 'stale_claim';
        task.attempts += 1;
        backToReady(task, seq, event.data.retryAt);
        return null;
      });
    case 'TaskFailed':
      return onTask(state, event, seq, applied, (task) => {
        if (event.data.claimToken !== null && !holds(task, event.data.claimToken)) return 'stale_claim';
        if (task.status === 'COMPLETED' || task.status === 'CANCELLED') return 'task_finished';
        // Only a holder's own failure is a submission it may repeat; when the manager fails the task (its
        // last lease ran out), the holder's late result must meet a stale claim, not a no-op.
        if (event.data.claimToken !== null && event.data.decidedBy === 'holder')
          task.lastResult = resultOf(task, event.data.claimToken, seq);
        task.attempts += 1;
        task.status = 'FAILED';
        task.claim = null;
        return null;
      });
    case 'TaskCancelled':
      return onTask(state, event, seq, applied, (task) => {
        if (task.status === 'COMPLETED' || task.status === 'CANCELLED') return 'task_finished';
        task.status = 'CANCELLED';
        task.claim = null;
        return null;
      });
    case 'TaskProgressed':
      // Progress lives on its own subject and changes no aggregate state; the projector stores the step.
      return null;
    default: {
      const unreachable: never = event;
      throw new Error(`unhandled task event ${(unreachable as DomainEvent).type}`);
    }
  }
}

/** Applies a task-subject event: bumps the task's sequence, then runs `change` (which names an anomaly or null). */
function onTask(
  state: GraphState,
  event: DomainEvent,
  seq: number,
  applied: Applied,
  change: (task: TaskState) => string | null,
): string | null {
  const task = event.taskId === undefined ? undefined : state.tasks.get(event.taskId);
  if (!task) return 'unknown_task';
  task.lastSeq = seq;
  applied.tasks.add(task.id);
  return change(task);
}

function backToReady(task: TaskState, seq: number, availableAt: number): void {
  task.status = 'READY';
  task.claim = null;
  task.readySeq = seq;
  task.availableAt = availableAt;
}

/** Records an accepted result of the current claim (call before the claim is cleared). */
function resultOf(task: TaskState, token: string, seq: number): NonNullable<TaskState['lastResult']> {
  const agentId = task.claim?.agentId;
  return agentId === undefined ? { token, seq } : { token, seq, agentId };
}

function holds(task: TaskState, token: string): boolean {
  return task.status === 'CLAIMED' && task.claim?.token === token;
}
