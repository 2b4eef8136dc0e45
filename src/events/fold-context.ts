/**
 * What the graph fold needs to know from outside a graph's own trail: when an agent was revoked. The
 * projector folds every subject in stream order, so when it reaches a claim it has already folded every
 * revocation stored before it; a fold of one graph's trail alone (a test, a tool) passes what it knows.
 */
export interface FoldContext {
  /** The stream sequence of the agent's AgentRevoked, or null while it is not revoked. */
  revokedSeq(agentId: string): number | null;
}

/** For folds that know of no revocation. */
export const NO_REVOCATIONS: FoldContext = Object.freeze({ revokedSeq: () => null });
