import { z } from 'zod';
import { AgentIdSchema } from '../protocol/index.ts';
import { eventSchema } from './envelope.ts';

export const AgentRoleSchema = z.enum(['admin', 'worker']);
export type AgentRole = z.infer<typeof AgentRoleSchema>;

/** Subject `<prefix>._sys.agent.<agentId>`. Holds the SHA-256 of the token, never the token. */
export const AgentRegistered = eventSchema(
  'AgentRegistered',
  1,
  z.object({
    agentId: AgentIdSchema,
    role: AgentRoleSchema,
    tokenHash: z.string().regex(/^[0-9a-f]{64}$/),
  }),
);

export const AgentRevoked = eventSchema(
  'AgentRevoked',
  1,
  z.object({ agentId: AgentIdSchema, reason: z.string().max(1000).nullable() }),
);

export const AGENT_EVENT_SCHEMAS = [AgentRegistered, AgentRevoked] as const;
