import { isIPv6 } from 'node:net';
import { canonicalOrigin } from '../../config.ts';

/** Where a request arrived: the scheme and the local end of its socket. */
export interface LocalEnd {
  protocol: 'http' | 'https';
  address: string | undefined;
  port: number | undefined;
}

/**
 * The MCP spec's DNS-rebinding rule: a request with an `Origin` is served only when that origin is this
 * server's own or is allowed by configuration. "Own" is judged from the socket, not the Host header,
 * which a rebound name controls: loopback names and the address the request arrived at, on the port it
 * arrived at. A request without `Origin` (not from a browser) passes; `Origin: null` does not.
 */
export function originAllowed(
  origin: string | undefined,
  local: LocalEnd,
  allowed: readonly string[],
): boolean {
  if (origin === undefined) return true;
  const canonical = canonicalOrigin(origin);
  if (canonical === undefined) return false;
  if (allowed.includes(canonical)) return true;
  const url = new URL(canonical);
  if (url.protocol !== `${local.protocol}:` || local.port === undefined) return false;
  const port = url.port === '' ? (local.protocol === 'https' ? 443 : 80) : Number(url.port);
  return port === local.port && ownHostnames(local.address).has(url.hostname);
}

/** Host names as `URL.hostname` spells them (IPv6 in brackets) that mean this machine. */
function ownHostnames(address: string | undefined): Set<string> {
  const names = new Set(['localhost', '127.0.0.1', '[::1]']);
  if (address !== undefined) {
    const v4 = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
    names.add(isIPv6(v4) ? `[${v4}]` : v4);
  }
  return names;
}
