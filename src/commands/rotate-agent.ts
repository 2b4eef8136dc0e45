import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { AgentState } from '../events/index.ts';
import { NatsPasswordHashSchema } from '../events/index.ts';
import { AgentIdSchema } from '../protocol/index.ts';
import { commandSchema } from './command.ts';
import type { Decision } from './decision.ts';

export const RotateAgentSchema = commandSchema(
  'RotateAgent',
  z.object({
    agentId: AgentIdSchema,
    tokenHash: z.string().regex(/^[0-9a-f]{64}$/),
    natsPasswordHash: NatsPasswordHashSchema,
  }),
);
export type RotateAgent = z.infer<typeof RotateAgentSchema>;

/**
 * New credentials for an active agent: a new token and NATS password replace the old ones (an agent
 * registered before NATS users gets its first NATS password this way). A revoked agent stays revoked.
 */
export function decideRotateAgent(command: RotateAgent, state: AgentState | null): Decision | AppError {
  const { agentId, tokenHash, natsPasswordHash } = command.data;
  if (state === null) return new AppError('AM_ERR_AGENT_NOT_FOUND', `no agent ${agentId}`);
  if (state.status === 'revoked') return new AppError('AM_ERR_AGENT_REVOKED', `agent ${agentId} is revoked`);
  return {
    kind: 'append',
    to: { kind: 'agent', agentId },
    expectedSeq: state.lastSeq,
    // Each rotation is new: its id is the new token's hash, so a resent rotation is still one event.
    msgId: `rotate:${agentId}:${tokenHash}`,
    event: { type: 'AgentCredentialsRotated', data: { agentId, tokenHash, natsPasswordHash } },
  };
}
