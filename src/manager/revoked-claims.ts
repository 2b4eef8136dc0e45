import { decideReleaseTask } from '../commands/index.ts';
import { isAppError } from '../errors.ts';
import type { GraphState } from '../events/index.ts';
import type { ManagerRuntime } from './manager-runtime.ts';
import type { GraphReconciler } from './reconciler.ts';

/**
 * A revoked agent's claims go back at once (TaskReleased, no attempt used) instead of waiting out their
 * leases: the agent can no longer heartbeat or submit (its token is refused), so its tasks would only sit
 * there. Woken by the revocation itself (see startManager) and by the level sweep.
 */
export class RevokedClaims implements GraphReconciler {
  readonly name = 'revoked-claims';
  constructor(private readonly rt: ManagerRuntime) {}

  candidates(): string[] {
    return this.rt.ctx.readModel.tasks.graphsWithRevokedClaims();
  }

  reconcile(graph: GraphState): void {
    const agents = this.rt.ctx.readModel.agents;
    for (const task of graph.tasks.values()) {
      const claim = task.status === 'CLAIMED' ? task.claim : null;
      if (claim === null || agents.get(claim.agentId)?.status !== 'revoked') continue;
      const graphId = graph.id;
      const taskId = task.id;
      const { agentId, token: claimToken } = claim;
      this.rt.run(`release-revoked:${graphId}:${taskId}:${claimToken}`, graphId, async () => {
        const outcome = await this.rt.command(graphId, (state, metadata) =>
          decideReleaseTask(
            {
              type: 'ReleaseTask',
              data: { graphId, taskId, agentId, claimToken, reason: `agent ${agentId} was revoked` },
              metadata,
            },
            state,
          ),
        );
        if (isAppError(outcome)) this.rt.refused(outcome, { graphId, taskId, claimToken }, 'ReleaseTask');
        else this.rt.log.info({ graphId, taskId, agentId }, "a revoked agent's claim released");
      });
    }
  }
}
