import type { FastifyInstance } from 'fastify';

const policy = (styleSrc: string) =>
  [
    "default-src 'self'",
    "script-src 'self'",
    `style-src ${styleSrc}`,
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
  ].join('; ');

/**
 * The Content-Security-Policy of every reply, the dashboard's page included: scripts, styles and
 * connections only from this server (no inline script, no eval), no plugins, no <base>, no framing.
 */
export const CONTENT_SECURITY_POLICY = policy("'self'");

/** The same for /docs, whose Swagger UI sets inline styles (styles only: its scripts are files). */
export const DOCS_CONTENT_SECURITY_POLICY = policy("'self' 'unsafe-inline'");

/**
 * Security headers on every reply: the CSP above, `nosniff` (a reply is never run as another type than it
 * says), no Referer to other sites (graph ids stay here), and no framing for browsers older than CSP 2.
 */
export function registerSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    const docs = request.url === '/docs' || request.url.startsWith('/docs/');
    reply.header('content-security-policy', docs ? DOCS_CONTENT_SECURITY_POLICY : CONTENT_SECURITY_POLICY);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    return payload;
  });
}
