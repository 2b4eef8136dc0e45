import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { AgentState } from '../events/index.ts';
import { AgentIdSchema, LIMITS } from '../protocol/index.ts';
import { commandSchema } from './command.ts';
import type { Decision } from './decision.ts';

export const RevokeAgentSchema = commandSchema(
  'RevokeAgent',
  z.object({ agentId: AgentIdSchema, reason: z.string().max(LIMITS.maxErrorMessageChars).optional() }),
);
export type RevokeAgent = z.infer<typeof RevokeAgentSchema>;

/** Revokes an agent's token for good; revoking twice is a no-op. */
export function decideRevokeAgent(command: RevokeAgent, state: AgentState | null): Decision | AppError {
  const { agentId, reason } = command.data;
  if (state === null) return new AppError('AM_ERR_AGENT_NOT_FOUND', `no agent ${agentId}`);
  if (state.status === 'revoked') return { kind: 'noop', seq: state.lastSeq };
  return {
    kind: 'append',
    to: { kind: 'agent', agentId },
    expectedSeq: state.lastSeq,
    msgId: `revoke:${agentId}`,
    event: { type: 'AgentRevoked', data: { agentId, reason: reason ?? null } },
  };
}
