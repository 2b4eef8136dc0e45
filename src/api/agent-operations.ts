import { decideRegisterAgent, decideRevokeAgent, handleCommand } from '../commands/index.ts';
import { AppError } from '../errors.ts';
import type { AgentState } from '../events/index.ts';
import type { AppContext } from '../node/app-context.ts';
import { BOOTSTRAP_ADMIN_ID, generateToken, hashToken, type Principal } from '../node/principal.ts';
import type { AgentView, RegisterAgentReply, RegisterAgentRequest, SeqReply } from '../protocol/index.ts';

/** How long registration waits for the local read model, so the new token works on the next request. */
const AUTH_VISIBLE_WAIT_MS = 5_000;

/** RegisterAgent: makes a token, stores only its SHA-256 (in the event), and shows the token once. */
export async function registerAgent(
  ctx: AppContext,
  principal: Principal,
  body: RegisterAgentRequest,
): Promise<RegisterAgentReply> {
  if (body.agentId === BOOTSTRAP_ADMIN_ID) {
    throw new AppError('AM_ERR_AGENT_EXISTS', `${BOOTSTRAP_ADMIN_ID} is the bootstrap admin`);
  }
  const token = generateToken();
  const outcome = await handleCommand<AgentState | null>(ctx.ports, {
    actor: principal.agentId,
    load: () => ctx.readModel.agents.get(body.agentId),
    decide: (state, metadata) =>
      decideRegisterAgent(
        {
          type: 'RegisterAgent',
          data: { agentId: body.agentId, role: body.role, tokenHash: hashToken(token) },
          metadata,
        },
        state,
      ),
  });
  if (outcome.duplicate || outcome.noop) {
    // A repeat of an earlier registration: its token was shown then and cannot be shown again.
    throw new AppError('AM_ERR_AGENT_EXISTS', `agent ${body.agentId} already exists`);
  }
  await ctx.projector.waitFor(outcome.seq, AUTH_VISIBLE_WAIT_MS);
  return { agentId: body.agentId, role: body.role, token };
}

export async function revokeAgent(ctx: AppContext, principal: Principal, agentId: string): Promise<SeqReply> {
  const outcome = await handleCommand<AgentState | null>(ctx.ports, {
    actor: principal.agentId,
    load: () => ctx.readModel.agents.get(agentId),
    decide: (state, metadata) =>
      decideRevokeAgent({ type: 'RevokeAgent', data: { agentId }, metadata }, state),
  });
  await ctx.projector.waitFor(outcome.seq, AUTH_VISIBLE_WAIT_MS);
  return { seq: outcome.seq };
}

export function listAgents(ctx: AppContext): { agents: AgentView[] } {
  return {
    agents: ctx.readModel.agents.list().map((agent) => ({
      agentId: agent.id,
      role: agent.role,
      status: agent.status,
      createdAt: agent.createdAt,
      revokedAt: agent.revokedAt,
    })),
  };
}
