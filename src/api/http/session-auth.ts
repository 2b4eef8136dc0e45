import type { FastifyRequest } from 'fastify';
import { AppError } from '../../errors.ts';
import type { AppContext } from '../../node/app-context.ts';
import { bearerToken, type Principal } from '../../node/principal.ts';
import { type SessionClaims, type SessionCodec, sessionCookieOf } from './session-cookie.ts';

/** The header the dashboard sends with every request that changes state; a cross-site form cannot. */
export const CSRF_HEADER = 'x-am-csrf';

const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/** A request's principal and how it proved who it is. */
export interface Authenticated {
  principal: Principal;
  via: 'bearer' | 'session';
  /** For `session`: when the session ends (epoch ms). */
  expiresAt?: number;
}

/**
 * Who a request comes from: its `Authorization: Bearer` token, else the dashboard's session cookie.
 * A session is checked again on every request against the read model (the agent still active, its token
 * still the one the session was made with), so revoking or rotating an agent ends its sessions on every
 * server as soon as that server has applied the event. A cookie-authenticated request that changes state
 * must also prove it comes from the dashboard (`requireDashboardRequest`), else 403.
 */
export class SessionAuth {
  readonly #ctx: AppContext;
  readonly #codec: SessionCodec;

  constructor(ctx: AppContext, codec: SessionCodec) {
    this.#ctx = ctx;
    this.#codec = codec;
  }

  authenticate(request: FastifyRequest): Authenticated {
    const header = request.headers.authorization;
    // A bearer token wins over a cookie: it was given on purpose, and no other site can add it.
    if (header !== undefined)
      return { principal: this.#ctx.auth.authenticate(bearerToken(header)), via: 'bearer' };
    const cookie = sessionCookieOf(request.headers.cookie);
    if (cookie === undefined) return { principal: this.#ctx.auth.authenticate(undefined), via: 'bearer' };
    const claims = this.claimsOf(cookie);
    if (!SAFE_METHODS.has(request.method)) requireDashboardRequest(request);
    const principal = this.#ctx.auth.authenticateSession(claims.agentId, (tokenHash) =>
      this.#codec.holds(claims, tokenHash),
    );
    return { principal, via: 'session', expiresAt: claims.expiresAt };
  }

  /** The claims of a session cookie whose signature and expiry hold; 401 otherwise. */
  claimsOf(cookie: string): SessionClaims {
    const verified = this.#codec.verify(cookie, this.#ctx.clock.now());
    if (verified.ok) return verified.claims;
    throw new AppError(
      'AM_ERR_AUTH_INVALID',
      verified.reason === 'expired' ? 'the session expired: log in again' : 'the session cookie is not valid',
    );
  }
}

/**
 * A state-changing request made with the session cookie must come from the dashboard's own page: it
 * carries the `x-am-csrf` header (a cross-site form cannot add a header, and a cross-site fetch that adds
 * one needs a CORS preflight this server never grants), and its `Origin`, when the browser sends one, names
 * this server (the Host, or X-Forwarded-Host behind a proxy). Otherwise 403 AM_ERR_AUTH_FORBIDDEN.
 */
export function requireDashboardRequest(request: FastifyRequest): void {
  const marker = request.headers[CSRF_HEADER];
  if (typeof marker !== 'string' || marker === '') {
    throw new AppError(
      'AM_ERR_AUTH_FORBIDDEN',
      `a request that changes state with the session cookie needs the ${CSRF_HEADER} header (or use a bearer token)`,
    );
  }
  const origin = request.headers.origin;
  if (origin !== undefined) {
    if (!sameHost(origin, request)) {
      throw new AppError('AM_ERR_AUTH_FORBIDDEN', 'the request comes from another origin');
    }
  } else {
    const site = request.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin') {
      throw new AppError('AM_ERR_AUTH_FORBIDDEN', 'the request comes from another site');
    }
  }
}

function sameHost(origin: string, request: FastifyRequest): boolean {
  let host: string;
  try {
    host = new URL(origin).host.toLowerCase();
  } catch {
    return false; // `null` (a sandboxed or file: page) and anything else that is not an origin
  }
  const forwarded = request.headers['x-forwarded-host'];
  const candidates = [request.headers.host, ...(typeof forwarded === 'string' ? forwarded.split(',') : [])];
  return candidates.some((candidate) => candidate !== undefined && candidate.trim().toLowerCase() === host);
}
