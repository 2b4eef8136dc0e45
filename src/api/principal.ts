import * as crypto from 'node:crypto';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { AppError } from '../errors.ts';
import type { AppContext } from './app-context.ts';

export type Role = 'admin' | 'worker';

/** Who is calling: an agent id and its role. The bootstrap admin is `admin`. */
export interface Principal {
  agentId: string;
  role: Role;
}

export const BOOTSTRAP_ADMIN_ID = 'admin';

// The one-shot crypto.hash (Node >= 20.12) is about three times cheaper than a Hash object; every
// request hashes its token.
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

export function hashToken(token: string): string {
  return oneShotHash
    ? oneShotHash('sha256', token, 'hex')
    : createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new bearer token: 32 random bytes, URL-safe, prefixed so leaked tokens are recognisable. */
export function generateToken(): string {
  return `am_${randomBytes(32).toString('base64url')}`;
}

/**
 * Resolves a presented bearer token to a principal. Tokens are compared by their SHA-256 in constant
 * time; the server never stores or logs a token.
 */
export function authenticate(ctx: AppContext, token: string | undefined): Principal {
  if (token === undefined || token === '') throw new AppError('AM_ERR_AUTH_MISSING');
  const presented = hashToken(token);
  // Active agents first: the cache holds only agents' token hashes, so it can never answer for the
  // admin token, and a worker's request skips the admin comparison.
  const known = ctx.principals.get(presented);
  if (known) return known;
  if (ctx.adminTokenHash !== null && equalHashes(presented, ctx.adminTokenHash)) {
    return { agentId: BOOTSTRAP_ADMIN_ID, role: 'admin' };
  }
  // The lookup is by hash (an index); the final comparison is constant-time anyway.
  const agent = ctx.readModel.agents.byTokenHash(presented);
  if (!agent || !equalHashes(presented, agent.tokenHash)) throw new AppError('AM_ERR_AUTH_INVALID');
  if (agent.status === 'revoked') throw new AppError('AM_ERR_AUTH_REVOKED');
  const principal: Principal = { agentId: agent.id, role: agent.role };
  ctx.principals.remember(presented, principal);
  return principal;
}

/** Admins may do everything; workers only what is listed for them. */
export function requireRole(principal: Principal, allowed: readonly Role[]): void {
  if (principal.role === 'admin' || allowed.includes(principal.role)) return;
  throw new AppError('AM_ERR_AUTH_FORBIDDEN', `role ${principal.role} may not do that`);
}

function equalHashes(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Extracts the token of an `Authorization: Bearer <token>` header value. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
