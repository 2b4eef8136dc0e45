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

/** Registers an agent once; its id is the subject, so a second registration is refused. */
export function decideRegisterAgent(command: RegisterAgent, state: AgentState | null): Decision | AppError {
  const { agentId, role, tokenHash, natsPasswordHash } = command.data;
  if (state !== null) return new AppError('AM_ERR_AGENT_EXISTS', `agent ${agentId} already exists`);
  return {
    kind: 'append',
    to: { kind: 'agent', agentId },
    expectedSeq: 0,
    msgId: `agent:${agentId}`,
    event: { type: 'AgentRegistered', data: { agentId, role, tokenHash, natsPasswordHash } },
  };
}
