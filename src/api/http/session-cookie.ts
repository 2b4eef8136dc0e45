import { createHmac, timingSafeEqual } from 'node:crypto';

/** The dashboard's session cookie. */
export const SESSION_COOKIE = 'am_session';

/** What a session cookie says, once its signature and expiry are checked. */
export interface SessionClaims {
  agentId: string;
  /** An HMAC of the SHA-256 of the token the session was made with (never the hash itself). */
  fingerprint: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

export type VerifiedSession =
  | { ok: true; claims: SessionClaims }
  | { ok: false; reason: 'malformed' | 'signature' | 'expired' };

/**
 * Signs and checks session cookies: `<payload>.<HMAC-SHA256(secret, payload)>`, both base64url, the payload
 * `{ v, a: agentId, f: fingerprint, e: expiresAt }`. Nothing is kept in memory, so any server holding the
 * same secret accepts a session another one made. The payload is signed, not secret: it carries only the
 * agent id, an expiry and a fingerprint that cannot be turned back into the token or its hash.
 */
export class SessionCodec {
  readonly #key: Buffer;

  constructor(secret: string) {
    this.#key = Buffer.from(secret, 'utf8');
  }

  /** The fingerprint of a token's SHA-256: a session holds it; the request check recomputes it. */
  fingerprint(tokenHash: string): string {
    return this.#mac(`token\u0000${tokenHash}`).subarray(0, 18).toString('base64url');
  }

  /** Whether `tokenHash` is the hash the session was made with (constant time). */
  holds(claims: SessionClaims, tokenHash: string): boolean {
    return equalStrings(this.fingerprint(tokenHash), claims.fingerprint);
  }

  issue(agentId: string, tokenHash: string, expiresAt: number): string {
    const payload = Buffer.from(
      JSON.stringify({ v: 1, a: agentId, f: this.fingerprint(tokenHash), e: expiresAt }),
      'utf8',
    ).toString('base64url');
    return `${payload}.${this.#signature(payload)}`;
  }

  verify(value: string, now: number): VerifiedSession {
    const dot = value.indexOf('.');
    if (dot <= 0 || dot !== value.lastIndexOf('.')) return { ok: false, reason: 'malformed' };
    const payload = value.slice(0, dot);
    // The signature is checked before the payload is parsed: nothing an attacker wrote is read.
    if (!equalStrings(this.#signature(payload), value.slice(dot + 1)))
      return { ok: false, reason: 'signature' };
    const claims = claimsOf(payload);
    if (claims === null) return { ok: false, reason: 'malformed' };
    if (claims.expiresAt <= now) return { ok: false, reason: 'expired' };
    return { ok: true, claims };
  }

  #signature(payload: string): string {
    return this.#mac(`session\u0000${payload}`).toString('base64url');
  }

  #mac(text: string): Buffer {
    return createHmac('sha256', this.#key).update(text, 'utf8').digest();
  }
}

function claimsOf(payload: string): SessionClaims | null {
  try {
    const parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const { v, a, f, e } = parsed;
    if (v !== 1 || typeof a !== 'string' || typeof f !== 'string' || typeof e !== 'number') return null;
    return { agentId: a, fingerprint: f, expiresAt: e };
  } catch {
    return null;
  }
}

function equalStrings(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

/** The value of the session cookie in a `Cookie` header (the first, if the browser sent several). */
export function sessionCookieOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const value = part.slice(eq + 1).trim();
    return value === '' ? undefined : value;
  }
  return undefined;
}

/**
 * A `Set-Cookie` value for the session: HttpOnly (no script reads it), SameSite=Strict (no other site's
 * request carries it), Path=/ (the API routes and /docs too), Secure when the page came over https.
 * `value` null clears it.
 */
export function sessionSetCookie(value: string | null, opts: { maxAgeSec: number; secure: boolean }): string {
  const parts = [
    `${SESSION_COOKIE}=${value ?? ''}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${value === null ? 0 : Math.max(0, Math.floor(opts.maxAgeSec))}`,
  ];
  if (opts.secure) parts.push('Secure');
  return parts.join('; ');
}
