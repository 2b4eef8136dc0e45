import { z } from 'zod';
import { AgentIdSchema } from '../protocol/index.ts';
import { eventSchema } from './envelope.ts';

export const AgentRoleSchema = z.enum(['admin', 'worker']);
export type AgentRole = z.infer<typeof AgentRoleSchema>;

const TokenHashSchema = z.string().regex(/^[0-9a-f]{64}$/);
/** A bcrypt hash (`$2a$`/`$2b$`), the form nats-server accepts in place of a plaintext password. */
export const NatsPasswordHashSchema = z.string().regex(/^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/);

/**
 * Subject `<prefix>._sys.agent.<agentId>`. Holds the SHA-256 of the token and the bcrypt hash of the
 * agent's NATS password, never either secret. v1 had no NATS password: `natsPasswordHash` reads as null
 * (such an agent has no NATS user until its credentials are rotated).
 */
export const AgentRegistered = eventSchema(
  'AgentRegistered',
  2,
  z.object({
    agentId: AgentIdSchema,
    role: AgentRoleSchema,
    tokenHash: TokenHashSchema,
    natsPasswordHash: NatsPasswordHashSchema.nullable(),
  }),
);

/** New credentials for an agent: the old token and NATS password stop working once it is applied. */
export const AgentCredentialsRotated = eventSchema(
  'AgentCredentialsRotated',
  1,
  z.object({ agentId: AgentIdSchema, tokenHash: TokenHashSchema, natsPasswordHash: NatsPasswordHashSchema }),
);

export const AgentRevoked = eventSchema(
  'AgentRevoked',
  1,
  z.object({ agentId: AgentIdSchema, reason: z.string().max(1000).nullable() }),
);

export const AGENT_EVENT_SCHEMAS = [AgentRegistered, AgentCredentialsRotated, AgentRevoked] as const;
