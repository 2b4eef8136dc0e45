import type { ClaimState } from '../events/index.ts';
import type { TaskRef } from './task-rows.ts';

/**
 * The current claims, in memory, by (agent, requestId) and by token: every claim request looks here
 * for an earlier claim of the same request (a retry whose reply was lost), so it must not cost a SQLite
 * query. Kept by the projector after each batch, from the same task states it writes, and loaded from
 * the read model on start: it never disagrees with the committed rows.
 */
export class ClaimIndex {
  readonly #byRequest = new Map<string, TaskRef>();
  readonly #byToken = new Map<string, TaskRef>();
  /** What each claimed task is indexed under, to unindex it when its claim ends. */
  readonly #byTask = new Map<string, { requestKey: string; token: string }>();

  get size(): number {
    return this.#byTask.size;
  }

  /** Records a task's current claim (null: it holds none, e.g. completed, released or expired). */
  set(
    graphId: string,
    taskId: string,
    claim: Pick<ClaimState, 'agentId' | 'requestId' | 'token'> | null,
  ): void {
    const taskKey = `${graphId}\u0000${taskId}`;
    const previous = this.#byTask.get(taskKey);
    if (previous) {
      if (claim && previous.token === claim.token) return;
      this.#byRequest.delete(previous.requestKey);
      this.#byToken.delete(previous.token);
      this.#byTask.delete(taskKey);
    }
    if (!claim) return;
    const ref: TaskRef = { graph_id: graphId, id: taskId };
    const requestKey = requestKeyOf(claim.agentId, claim.requestId);
    this.#byRequest.set(requestKey, ref);
    this.#byToken.set(claim.token, ref);
    this.#byTask.set(taskKey, { requestKey, token: claim.token });
  }

  /** The task an agent's claim request currently holds, if any. */
  byRequest(agentId: string, requestId: string): TaskRef | undefined {
    return this.#byRequest.get(requestKeyOf(agentId, requestId));
  }

  /** The task a claim token currently holds, if any. */
  byToken(token: string): TaskRef | undefined {
    return this.#byToken.get(token);
  }

  clear(): void {
    this.#byRequest.clear();
    this.#byToken.clear();
    this.#byTask.clear();
  }
}

function requestKeyOf(agentId: string, requestId: string): string {
  return `${agentId}\u0000${requestId}`;
}
