import { timingSafeEqual } from 'node:crypto';
import { AppError } from '../errors.ts';
import { AGENT_EVENT_TYPES } from '../events/index.ts';
import type { AgentsProjection, Projector } from '../projections/index.ts';
import { BOOTSTRAP_ADMIN_ID, hashToken, type Principal } from './principal.ts';

/** Enough for every agent of a real deployment; past it the cache starts over rather than grow. */
const MAX_CACHED = 10_000;

export interface AuthenticatorOptions {
  /** The bootstrap admin token (AM_ADMIN_TOKEN), if any; only its SHA-256 is kept. */
  adminToken?: string;
  /** Where agents and their token hashes are looked up. */
  agents: AgentsProjection;
  /** Whose agent events empty the cache (a revocation is never answered from it once applied). */
  projector: Projector;
}

/**
 * Resolves a presented bearer token to a principal. Tokens are compared by their SHA-256 in constant
 * time; the server never stores or logs a token. Active agents are cached by that hash, so a request
 * costs no SQLite lookup; the cache is emptied whenever the projector applies an agent event
 * (registration, revocation), right after the batch commits and before anything waiting on it resumes.
 */
export class Authenticator {
  readonly #adminTokenHash: string | null;
  readonly #agents: AgentsProjection;
  readonly #byTokenHash = new Map<string, Principal>();

  constructor(opts: AuthenticatorOptions) {
    this.#adminTokenHash = opts.adminToken ? hashToken(opts.adminToken) : null;
    this.#agents = opts.agents;
    opts.projector.onApplied((batch) => {
      if (batch.events.some((applied) => AGENT_EVENT_TYPES.has(applied.event.type)))
        this.#byTokenHash.clear();
    });
  }

  authenticate(token: string | undefined): Principal {
    if (token === undefined || token === '') throw new AppError('AM_ERR_AUTH_MISSING');
    const presented = hashToken(token);
    // Active agents first: the cache holds only agents' token hashes, so it can never answer for the
    // admin token, and a worker's request skips the admin comparison.
    const known = this.#byTokenHash.get(presented);
    if (known) return known;
    if (this.#adminTokenHash !== null && equalHashes(presented, this.#adminTokenHash)) {
      return { agentId: BOOTSTRAP_ADMIN_ID, role: 'admin' };
    }
    // The lookup is by hash (an index); the final comparison is constant-time anyway.
    const agent = this.#agents.byTokenHash(presented);
    if (!agent || !equalHashes(presented, agent.tokenHash)) throw new AppError('AM_ERR_AUTH_INVALID');
    if (agent.status === 'revoked') throw new AppError('AM_ERR_AUTH_REVOKED');
    const principal: Principal = { agentId: agent.id, role: agent.role };
    if (this.#byTokenHash.size >= MAX_CACHED) this.#byTokenHash.clear();
    this.#byTokenHash.set(presented, principal);
    return principal;
  }

  /**
   * The holder of a dashboard session, checked on every request: `agentId` must still be active and
   * `holds` must accept its current token's SHA-256 (the one the session was made with), so a revocation or
   * a rotation ends the agent's sessions once this process has applied it. A lookup by primary key: no
   * cache, so nothing stale can answer.
   */
  authenticateSession(agentId: string, holds: (tokenHash: string) => boolean): Principal {
    if (agentId === BOOTSTRAP_ADMIN_ID) {
      if (this.#adminTokenHash !== null && holds(this.#adminTokenHash)) return { agentId, role: 'admin' };
      throw new AppError('AM_ERR_AUTH_INVALID', 'the token of this session is no longer valid: log in again');
    }
    const agent = this.#agents.get(agentId);
    if (agent?.status === 'revoked') throw new AppError('AM_ERR_AUTH_REVOKED');
    if (!agent || !holds(agent.tokenHash)) {
      throw new AppError('AM_ERR_AUTH_INVALID', 'the token of this session is no longer valid: log in again');
    }
    return { agentId: agent.id, role: agent.role };
  }
}

function equalHashes(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && timingSafeEqual(left, right);
}
