import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { GraphState, TaskState } from '../events/index.ts';
import { isDispatching } from '../events/index.ts';
import { AgentIdSchema, AnyTaskIdSchema, GraphIdSchema, LIMITS } from '../protocol/index.ts';
import { commandSchema } from './command.ts';
import type { Decision } from './decision.ts';
import { refuseTerminal, requireGraph, requireTask, taskRef } from './guards.ts';

export const ClaimTaskSchema = commandSchema(
  'ClaimTask',
  z.object({
    graphId: GraphIdSchema,
    taskId: AnyTaskIdSchema,
    agentId: AgentIdSchema,
    /** Chosen by the worker per claim request: a retried request gets the claim it already has. */
    requestId: z.string().min(1).max(LIMITS.maxRequestIdChars),
    capabilities: z.array(z.string().min(1).max(LIMITS.maxCapabilityChars)).max(64).optional(),
  }),
);
export type ClaimTask = z.infer<typeof ClaimTaskSchema>;

/**
 * Claims one READY task for an agent. The append expects the task subject's last sequence, so of racing
 * claims exactly one lands; the claim token is the sequence it lands at.
 */
export function decideClaimTask(command: ClaimTask, state: GraphState | null): Decision | AppError {
  const { graphId, taskId, agentId, requestId } = command.data;
  const { now } = command.metadata;
  const graph = requireGraph(state, graphId);
  if (graph instanceof AppError) return graph;
  const task = requireTask(graph, taskId);
  if (task instanceof AppError) return task;
  const claim = task.claim;
  if (task.status === 'CLAIMED' && claim?.agentId === agentId && claim.requestId === requestId) {
    return { kind: 'noop', seq: Number(claim.token) };
  }
  const ended = refuseTerminal(graph);
  if (ended) return ended;
  const notReady = whyNotClaimable(graph, task, now, command.data.capabilities ?? []);
  if (notReady !== null) {
    return new AppError('AM_ERR_TASK_NOT_READY', `task ${taskId} ${notReady}`, {
      details: { taskId, status: task.status },
    });
  }
  return {
    kind: 'append',
    to: taskRef(graphId, taskId),
    expectedSeq: task.lastSeq,
    msgId: `claim:${agentId}:${requestId}`,
    event: {
      type: 'TaskClaimed',
      graphId,
      taskId,
      data: {
        agentId,
        requestId,
        attempt: task.attempts + 1,
        cycle: graph.cycle,
        leaseUntil: now + graph.options.leaseMs,
      },
    },
  };
}

/** Why `task` cannot be claimed now by a worker with `capabilities`, or null when it can. */
export function whyNotClaimable(
  state: GraphState,
  task: TaskState,
  now: number,
  capabilities: readonly string[],
): string | null {
  if (!isDispatching(state)) return `cannot be claimed while the graph is ${state.status}`;
  if (task.status !== 'READY') return `is ${task.status}, not READY`;
  if (task.availableAt > now) return `is backing off until ${new Date(task.availableAt).toISOString()}`;
  if (task.capability !== null && !capabilities.includes(task.capability))
    return `needs capability ${task.capability}`;
  return null;
}
