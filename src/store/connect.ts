import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';

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
  });
}
