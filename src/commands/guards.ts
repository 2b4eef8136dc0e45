import { AppError } from '../errors.ts';
import type { ClaimState, GraphState, TaskState } from '../events/index.ts';

/** The graph a command names, or AM_ERR_GRAPH_NOT_FOUND. */
export function requireGraph(state: GraphState | null, graphId: string): GraphState | AppError {
  if (state === null) return new AppError('AM_ERR_GRAPH_NOT_FOUND', `no graph ${graphId}`);
  return state;
}

/** The task a command names, or AM_ERR_TASK_NOT_FOUND. */
export function requireTask(state: GraphState, taskId: string): TaskState | AppError {
  const task = state.tasks.get(taskId);
  if (task === undefined)
    return new AppError('AM_ERR_TASK_NOT_FOUND', `no task ${taskId} in graph ${state.id}`);
  return task;
}

/** Work on a cancelled graph stops; workers learn it from this code (a heartbeat answers `cancelled: true`). */
export function refuseCancelled(state: GraphState): AppError | null {
  if (state.status === 'CANCELLED')
    return new AppError('AM_ERR_GRAPH_CANCELLED', `graph ${state.id} was cancelled`);
  return null;
}

/** A graph that ended (SUCCEEDED, FAILED or CANCELLED) takes no more changes. */
export function refuseTerminal(state: GraphState): AppError | null {
  const cancelled = refuseCancelled(state);
  if (cancelled) return cancelled;
  if (state.status === 'SUCCEEDED' || state.status === 'FAILED')
    return new AppError('AM_ERR_GRAPH_FINISHED', `graph ${state.id} is ${state.status}`);
  return null;
}

/**
 * The claim a holder presents: it must be the task's current claim (else 409 AM_ERR_STALE_CLAIM) and
 * belong to the presenting agent (else 403 AM_ERR_CLAIM_FOREIGN). Staleness is checked first so a
 * token that is no longer anyone's claim never reveals who held it.
 */
export function requireClaim(task: TaskState, claimToken: string, agentId: string): ClaimState | AppError {
  const claim = task.claim;
  if (task.status !== 'CLAIMED' || claim === null || claim.token !== claimToken) {
    return new AppError(
      'AM_ERR_STALE_CLAIM',
      `claim ${claimToken} is not the current claim of task ${task.id}`,
      {
        details: { taskId: task.id, claimToken },
      },
    );
  }
  if (claim.agentId !== agentId) {
    return new AppError(
      'AM_ERR_CLAIM_FOREIGN',
      `claim ${claimToken} of task ${task.id} is held by another agent`,
      {
        details: { taskId: task.id, claimToken },
      },
    );
  }
  return claim;
}

/** Resolves graph, task, cancellation and claim in the order every holder command checks them. */
export function requireHeldTask(
  state: GraphState | null,
  ref: { graphId: string; taskId: string; claimToken: string; agentId: string },
): { graph: GraphState; task: TaskState; claim: ClaimState } | AppError {
  const graph = requireGraph(state, ref.graphId);
  if (graph instanceof AppError) return graph;
  const task = requireTask(graph, ref.taskId);
  if (task instanceof AppError) return task;
  const cancelled = refuseCancelled(graph);
  if (cancelled) return cancelled;
  const claim = requireClaim(task, ref.claimToken, ref.agentId);
  if (claim instanceof AppError) return claim;
  return { graph, task, claim };
}

/** The task subject a task command appends to. */
export function taskRef(graphId: string, taskId: string) {
  return { kind: 'task', graphId, taskId } as const;
}

/** The graph subject a graph command appends to. */
export function graphRef(graphId: string) {
  return { kind: 'graph', graphId } as const;
}
