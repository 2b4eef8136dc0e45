import type { Msg, MsgHdrs } from '@nats-io/nats-core';
import { AppError } from '../errors.ts';
import { type NatsRequestMux, NatsRequestReconnectedError } from '../nats/request-mux.ts';
import { sleep } from './abortable.ts';
import type { ConnectionWatch } from './connection-watch.ts';
import { isJetStreamPaused } from './store-errors.ts';

/** The first wait before asking JetStream again after it answered "not enabled"; doubled each time. */
const JETSTREAM_PAUSE_RETRY_MS = 20;

/**
 * The store's requests, made to survive what a running system sees: a connection that is down for a
 * while, a reconnect that overtakes a request, JetStream pausing for a config reload or a leader election.
 * Each call gets a budget; past it the caller gets AM_ERR_STORE_UNAVAILABLE.
 */
export class ResilientCalls {
  readonly #watch: ConnectionWatch;
  readonly #requests: NatsRequestMux;

  constructor(watch: ConnectionWatch, requests: NatsRequestMux) {
    this.#watch = watch;
    this.#requests = requests;
  }

  /**
   * A request on the store's own mux, sent once connected and sent again after a reconnect: the mux
   * fails what is open at a reconnect (NatsRequestReconnectedError), so unlike run() this needs no
   * listener, promise or closure of its own per request — it is every append's path.
   */
  async request(subject: string, data: Uint8Array, headers: MsgHdrs, timeoutMs: number): Promise<Msg> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.#watch.connected && !(await this.#watch.waitConnected(deadline - Date.now()))) {
        throw notConnectedError(`append to ${subject}`, timeoutMs);
      }
      try {
        return await this.#requests.request(subject, data, {
          timeoutMs: Math.max(1, deadline - Date.now()),
          headers,
        });
      } catch (error) {
        if (!(error instanceof NatsRequestReconnectedError)) throw error;
        if (Date.now() >= deadline) throw connectionLostError(`append to ${subject}`, timeoutMs);
      }
    }
  }

  /**
   * Runs an idempotent request: waits (within `timeoutMs`) for the connection, and runs it again when a
   * reconnect overtakes it (ConnectionWatch says why). Rejects with the request's own error, or with
   * AM_ERR_STORE_UNAVAILABLE when the connection is not back in time.
   */
  async run<T>(what: string, timeoutMs: number, run: (remainingMs: number) => Promise<T>): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let pauses = 0;
    for (;;) {
      // Connected is the usual case: skip the wait's promise and its turn of the microtask queue.
      if (!this.#watch.connected && !(await this.#watch.waitConnected(deadline - Date.now()))) {
        throw notConnectedError(what, timeoutMs);
      }
      const outcome = await new Promise<{ ok: true; value: T } | { ok: false; error: unknown } | null>(
        (resolve) => {
          const cancel = this.#watch.onNextReconnect(() => resolve(null));
          run(Math.max(1, deadline - Date.now())).then(
            (value) => {
              cancel();
              resolve({ ok: true, value });
            },
            (error: unknown) => {
              cancel();
              resolve({ ok: false, error });
            },
          );
        },
      );
      if (outcome?.ok === true) return outcome.value;
      if (outcome !== null) {
        if (!isJetStreamPaused(outcome.error)) throw outcome.error;
        // A config reload (an agent added or revoked) briefly takes JetStream away from the account on
        // nats-server 2.9, and a cluster does between stream leaders: ask again shortly.
        const pauseMs = Math.min(JETSTREAM_PAUSE_RETRY_MS * 2 ** pauses++, deadline - Date.now());
        if (pauseMs <= 0) throw outcome.error;
        await sleep(pauseMs, undefined);
        continue;
      }
      if (Date.now() >= deadline) throw connectionLostError(what, timeoutMs);
    }
  }
}

function notConnectedError(what: string, timeoutMs: number): AppError {
  return new AppError('AM_ERR_STORE_UNAVAILABLE', `${what}: not connected to NATS within ${timeoutMs} ms`, {
    details: { reason: 'disconnected', timeoutMs },
  });
}

function connectionLostError(what: string, timeoutMs: number): AppError {
  return new AppError('AM_ERR_STORE_UNAVAILABLE', `${what}: the connection was lost`, {
    details: { reason: 'reconnected', timeoutMs },
  });
}
