import type { AgentRole } from './agent-events.ts';
import type { RecordedEvent } from './domain-event.ts';

export interface AgentState {
  id: string;
  role: AgentRole;
  tokenHash: string;
  status: 'active' | 'revoked';
  createdAt: string;
  revokedAt: string | null;
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
        status: 'active',
        createdAt: event.at,
        revokedAt: null,
        lastSeq: seq,
      };
    case 'AgentRevoked':
      if (state === null) return null;
      return { ...state, status: 'revoked', revokedAt: state.revokedAt ?? event.at, lastSeq: seq };
    default:
      return state === null ? null : { ...state, lastSeq: seq };
  }
}
