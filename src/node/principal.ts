import * as crypto from 'node:crypto';
import { createHash, randomBytes } from 'node:crypto';
import { AppError } from '../errors.ts';

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

/** Admins may do everything; workers only what is listed for them. */
export function requireRole(principal: Principal, allowed: readonly Role[]): void {
  if (principal.role === 'admin' || allowed.includes(principal.role)) return;
  throw new AppError('AM_ERR_AUTH_FORBIDDEN', `role ${principal.role} may not do that`);
}

/** Extracts the token of an `Authorization: Bearer <token>` header value. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
