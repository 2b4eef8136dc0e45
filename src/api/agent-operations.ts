import {
  decideRegisterAgent,
  decideRevokeAgent,
  decideRotateAgent,
  handleCommand,
} from '../commands/index.ts';
import { AppError } from '../errors.ts';
import type { AgentState } from '../events/index.ts';
import type { AppContext } from '../node/app-context.ts';
import { generateNatsPassword, hashNatsPassword } from '../node/nats-password.ts';
import { BOOTSTRAP_ADMIN_ID, generateToken, hashToken, type Principal } from '../node/principal.ts';
import {
  type AgentView,
  natsUserOf,
  type RegisterAgentReply,
  type RegisterAgentRequest,
  type SeqReply,
} from '../protocol/index.ts';

/** How long registration waits for the local read model, so the new token works on the next request. */
const AUTH_VISIBLE_WAIT_MS = 5_000;

/** A token and a NATS password, shown once, and the hashes that are all the events keep of them. */
async function newCredentials(): Promise<{
  token: string;
  tokenHash: string;
  natsPassword: string;
  natsPasswordHash: string;
}> {
  const token = generateToken();
  const natsPassword = generateNatsPassword();
  return {
    token,
    tokenHash: hashToken(token),
    natsPassword,
    natsPasswordHash: await hashNatsPassword(natsPassword),
  };
}

/** RegisterAgent: makes a token and a NATS password, stores only their hashes, and shows them once. */
export async function registerAgent(
  ctx: AppContext,
  principal: Principal,
  body: RegisterAgentRequest,
): Promise<RegisterAgentReply> {
  if (body.agentId === BOOTSTRAP_ADMIN_ID) {
    throw new AppError('AM_ERR_AGENT_EXISTS', `${BOOTSTRAP_ADMIN_ID} is the bootstrap admin`);
  }
  const credentials = await newCredentials();
  const outcome = await handleCommand<AgentState | null>(ctx.ports, {
    actor: principal.agentId,
    load: () => ctx.readModel.agents.get(body.agentId),
    decide: (state, metadata) =>
      decideRegisterAgent(
        {
          type: 'RegisterAgent',
          data: {
            agentId: body.agentId,
            role: body.role,
            tokenHash: credentials.tokenHash,
            natsPasswordHash: credentials.natsPasswordHash,
          },
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
  return {
    agentId: body.agentId,
    role: body.role,
    token: credentials.token,
    natsUser: natsUserOf(body.agentId),
    natsPassword: credentials.natsPassword,
  };
}

/**
 * RotateAgent: a new token and NATS password for an active agent; the old ones stop working once the
 * rotation is applied. How an agent registered before NATS users gets NATS access.
 */
export async function rotateAgent(
  ctx: AppContext,
  principal: Principal,
  agentId: string,
): Promise<RegisterAgentReply> {
  const credentials = await newCredentials();
  const outcome = await handleCommand<AgentState | null>(ctx.ports, {
    actor: principal.agentId,
    load: () => ctx.readModel.agents.get(agentId),
    decide: (state, metadata) =>
      decideRotateAgent(
        {
          type: 'RotateAgent',
          data: { agentId, tokenHash: credentials.tokenHash, natsPasswordHash: credentials.natsPasswordHash },
          metadata,
        },
        state,
      ),
  });
  await ctx.projector.waitFor(outcome.seq, AUTH_VISIBLE_WAIT_MS);
  const agent = ctx.readModel.agents.get(agentId);
  if (!agent) throw new AppError('AM_ERR_AGENT_NOT_FOUND', `no agent ${agentId}`);
  return {
    agentId,
    role: agent.role,
    token: credentials.token,
    natsUser: natsUserOf(agentId),
    natsPassword: credentials.natsPassword,
  };
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
      natsUser: agent.natsPasswordHash === null ? null : natsUserOf(agent.id),
    })),
  };
}
