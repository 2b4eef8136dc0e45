import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { AgentState } from '../events/index.ts';
import { AgentRoleSchema, NatsPasswordHashSchema } from '../events/index.ts';
import { AgentIdSchema } from '../protocol/index.ts';
import { commandSchema } from './command.ts';
import type { Decision } from './decision.ts';

export const RegisterAgentSchema = commandSchema(
  'RegisterAgent',
  z.object({
    agentId: AgentIdSchema,
    role: AgentRoleSchema,
    /** SHA-256 of the token (hex): the token itself never reaches an event. */
    tokenHash: z.string().regex(/^[0-9a-f]{64}$/),
    /** bcrypt hash of the agent's NATS password (the password itself is shown once, like the token). */
    natsPasswordHash: NatsPasswordHashSchema,
  }),
);
export type RegisterAgent = z.infer<typeof RegisterAgentSchema>;

/**
 * Registers an agent once; its id is the subject, so a second registration is refused. A revoked id is
 * not reused either: the trail names agents by id, and a claim stored after a revocation is void for
 * that id forever — a new agent under an old name would inherit that.
 */
export function decideRegisterAgent(command: RegisterAgent, state: AgentState | null): Decision | AppError {
  const { agentId, role, tokenHash, natsPasswordHash } = command.data;
  if (state?.status === 'revoked') {
    return new AppError(
      'AM_ERR_AGENT_EXISTS',
      `agent ${agentId} was revoked${state.revokedAt ? ` at ${state.revokedAt}` : ''} and ids are not reused ` +
        `(the audit trail names agents by id): add it under a new id (e.g. ${agentId}-2); to give a live agent ` +
        `new credentials instead, use "am agents rotate ${agentId}" before revoking`,
      { details: { agentId, status: 'revoked' } },
    );
  }
  if (state !== null) return new AppError('AM_ERR_AGENT_EXISTS', `agent ${agentId} already exists`);
  return {
    kind: 'append',
    to: { kind: 'agent', agentId },
    expectedSeq: 0,
    msgId: `agent:${agentId}`,
    event: { type: 'AgentRegistered', data: { agentId, role, tokenHash, natsPasswordHash } },
  };
}
