import type { AgentRole } from './agent-events.ts';
import type { RecordedEvent } from './domain-event.ts';

export interface AgentState {
  id: string;
  role: AgentRole;
  tokenHash: string;
  /** bcrypt hash of the agent's NATS password; null for an agent registered before NATS users (v1). */
  natsPasswordHash: string | null;
  status: 'active' | 'revoked';
  createdAt: string;
  revokedAt: string | null;
  /**
   * Stream sequence of the AgentRevoked: the fold voids any claim of this agent stored after it, even one
   * decided before the revocation reached the claiming node.
   */
  revokedSeq: number | null;
  /** Last stream sequence of the agent subject. */
  lastSeq: number;
}

/** The agent aggregate's fold (subject `<prefix>._sys.agent.<agentId>`). Returns a new state. */
export function evolveAgent(state: AgentState | null, recorded: RecordedEvent): AgentState | null {
  const { event, seq } = recorded;
  switch (event.type) {
    case 'AgentRegistered':
      if (state !== null) return { ...state, lastSeq: seq };
      return {
        id: event.data.agentId,
        role: event.data.role,
        tokenHash: event.data.tokenHash,
        natsPasswordHash: event.data.natsPasswordHash,
        status: 'active',
        createdAt: event.at,
        revokedAt: null,
        revokedSeq: null,
        lastSeq: seq,
      };
    case 'AgentCredentialsRotated':
      // A revoked agent stays revoked: new credentials do not bring it back.
      if (state === null || state.status === 'revoked')
        return state === null ? null : { ...state, lastSeq: seq };
      return {
        ...state,
        tokenHash: event.data.tokenHash,
        natsPasswordHash: event.data.natsPasswordHash,
        lastSeq: seq,
      };
    case 'AgentRevoked':
      if (state === null) return null;
      return {
        ...state,
        status: 'revoked',
        revokedAt: state.revokedAt ?? event.at,
        revokedSeq: state.revokedSeq ?? seq,
        lastSeq: seq,
      };
    default:
      return state === null ? null : { ...state, lastSeq: seq };
  }
}
