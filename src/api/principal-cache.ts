import { AGENT_EVENT_TYPES } from '../events/index.ts';
import type { Projector } from '../projections/index.ts';
import type { Principal } from './principal.ts';

/** Enough for every agent of a real deployment; past it the cache starts over rather than grow. */
const MAX_ENTRIES = 10_000;

/**
 * Active agents by the SHA-256 of their token, so authenticating a request costs no SQLite lookup.
 * Emptied whenever the projector applies an agent event (registration, revocation): the listener runs
 * right after the batch commits and before anything waiting on that batch resumes, so a revocation
 * this server has applied is never answered from the cache.
 */
export class PrincipalCache {
  private readonly byTokenHash = new Map<string, Principal>();

  constructor(projector: Projector) {
    projector.onApplied((batch) => {
      if (batch.events.some((applied) => AGENT_EVENT_TYPES.has(applied.event.type))) this.byTokenHash.clear();
    });
  }

  get(tokenHash: string): Principal | undefined {
    return this.byTokenHash.get(tokenHash);
  }

  remember(tokenHash: string, principal: Principal): void {
    if (this.byTokenHash.size >= MAX_ENTRIES) this.byTokenHash.clear();
    this.byTokenHash.set(tokenHash, principal);
  }
}
