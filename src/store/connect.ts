import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { SERVICE_INBOX_PREFIX } from '../protocol/index.ts';

export interface ConnectNatsOptions {
  /** One or more `nats://host:port` URLs (a cluster's seed list). */
  servers: string | string[];
  /** User name, with `pass`. Default: none. */
  user?: string;
  pass?: string;
  /** Token auth. Default: none. */
  token?: string;
  /** The connection name shown by the server (`nats server report connections`). Default: none. */
  name?: string;
  /** Reconnect forever after a lost connection. Default: true (a long-running service outlives restarts). */
  reconnect?: boolean;
  /** Wait between reconnect attempts to the same server. Default: 1000 ms. */
  reconnectTimeWaitMs?: number;
  /** Timeout of the first connect. Default: 5000 ms. */
  timeoutMs?: number;
  /**
   * Prefix of this connection's inboxes: its requests' replies and its consumers' deliveries. Default
   * `_INBOX.am-service`, which AM's generated server configs let only the service user read.
   */
  inboxPrefix?: string;
}

/**
 * Connects to NATS. The caller owns the connection (drain() it on shutdown). With `reconnect`, attempts are
 * unlimited: JetStream publishes fail fast while the server is away (AM_ERR_STORE_UNAVAILABLE) and ordered
 * consumers resume from their last sequence once it is back.
 */
export function connectNats(options: ConnectNatsOptions): Promise<NatsConnection> {
  const reconnect = options.reconnect ?? true;
  return connect({
    servers: options.servers,
    ...(options.user === undefined ? {} : { user: options.user }),
    ...(options.pass === undefined ? {} : { pass: options.pass }),
    ...(options.token === undefined ? {} : { token: options.token }),
    ...(options.name === undefined ? {} : { name: options.name }),
    reconnect,
    maxReconnectAttempts: reconnect ? -1 : 0,
    reconnectTimeWait: options.reconnectTimeWaitMs ?? 1000,
    timeout: options.timeoutMs ?? 5000,
    inboxPrefix: options.inboxPrefix ?? SERVICE_INBOX_PREFIX,
  });
}

/**
 * Ends a connection within `timeoutMs`: drains it (what is buffered is sent, subscriptions finish) when the
 * server is there, and closes it when draining fails or takes too long. nats.js rejects a drain at once
 * while it is reconnecting and then keeps reconnecting forever, which would hold the process open.
 */
export async function closeNats(nc: NatsConnection, timeoutMs = 2_000): Promise<void> {
  if (nc.isClosed()) return;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const outcome = await Promise.race([nc.drain().then(() => 'drained' as const), timedOut]);
    if (outcome === 'drained') return;
  } catch {
    // Disconnected: nothing can be drained.
  } finally {
    clearTimeout(timer);
  }
  if (!nc.isClosed()) await nc.close().catch(() => {});
}
