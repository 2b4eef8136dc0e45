import {
  createInbox,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from '@nats-io/nats-core';
import { TurnEnd } from './turn-end.ts';
import { utf8Bytes } from './utf8-bytes.ts';

/** A request got no reply within its timeout. */
export class NatsRequestTimeoutError extends Error {
  override readonly name = 'TimeoutError';
  constructor(subject: string, timeoutMs: number) {
    super(`no reply on ${subject} within ${timeoutMs} ms`);
  }
}

/** Nobody subscribes to the subject (the server answered 503 at once). */
export class NatsNoRespondersError extends Error {
  override readonly name = 'NoRespondersError';
  constructor(subject: string) {
    super(`no responders on ${subject}`);
  }
}

/** The connection was re-established with the request still open: its reply can no longer come. */
export class NatsRequestReconnectedError extends Error {
  override readonly name = 'ReconnectedError';
  constructor(subject: string) {
    super(`the connection was re-established before ${subject} was answered`);
  }
}

/** The connection closed with the request still open. */
export class NatsRequestClosedError extends Error {
  override readonly name = 'ClosedConnectionError';
  constructor(subject: string) {
    super(`the connection closed before ${subject} was answered`);
  }
}

interface PendingRequest {
  subject: string;
  deadline: number;
  timeoutMs: number;
  resolve: (msg: Msg) => void;
  reject: (error: Error) => void;
}

/** How often timed-out requests are swept. Timeouts are this coarse; ours are seconds long. */
const SWEEP_MS = 50;

/**
 * Request/reply over one wildcard inbox subscription, for the hot paths (JetStream appends, worker
 * commands). nats.js's own `request()` builds two Error objects per call (for async stack traces, and
 * a "cancelled" rejection of an already-settled promise) plus a timer each; at thousands of requests a
 * second that was about a tenth of the AM server's CPU. Here a request is a map entry and a publish;
 * one coarse interval sweeps deadlines while anything is open.
 *
 * Requests made during one turn of the event loop are published together at its end (TurnEnd), with
 * whatever else the connection sends then (command replies): the appends of all the commands a socket
 * read delivered leave in one write.
 */
export class NatsRequestMux {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #sub: Subscription;
  readonly #pending = new Map<string, PendingRequest>();
  #next = 0;
  #sweeper: NodeJS.Timeout | null = null;

  readonly #turnEnd: TurnEnd;

  /**
   * `turnEnd`: shared with whatever else sends on `nc` in this process part (default: its own).
   * `inboxPrefix`: default the connection's own (`inboxPrefix` of connect()), as nats.js's requests use:
   * a server that gives each user a private inbox lets it subscribe to nothing else.
   */
  constructor(nc: NatsConnection, opts: { inboxPrefix?: string; turnEnd?: TurnEnd } = {}) {
    const inboxPrefix = opts.inboxPrefix ?? connectionInboxPrefix(nc);
    this.#turnEnd = opts.turnEnd ?? new TurnEnd();
    this.#nc = nc;
    this.#prefix = `${createInbox(inboxPrefix)}.`;
    this.#sub = nc.subscribe(`${this.#prefix}*`, { callback: (error, msg) => this.#onReply(error, msg) });
    void nc.closed().then(() => this.#failAll());
  }

  /** Requests in flight. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Publishes `data` to `subject` and resolves with the first reply, or rejects after `timeoutMs`. */
  request(
    subject: string,
    data: Uint8Array | string,
    opts: { timeoutMs: number; headers?: MsgHdrs },
  ): Promise<Msg> {
    const token = (this.#next++).toString(36);
    return new Promise<Msg>((resolve, reject) => {
      if (this.#sub.isClosed()) {
        reject(new NatsRequestClosedError(subject));
        return;
      }
      this.#pending.set(token, {
        subject,
        deadline: Date.now() + opts.timeoutMs,
        timeoutMs: opts.timeoutMs,
        resolve,
        reject,
      });
      this.#startSweeping();
      this.#turnEnd.send(() => this.#publish(subject, data, token, opts.headers));
    });
  }

  #publish(subject: string, data: Uint8Array | string, token: string, headers: MsgHdrs | undefined): void {
    try {
      this.#nc.publish(subject, typeof data === 'string' ? utf8Bytes(data) : data, {
        reply: this.#prefix + token,
        ...(headers === undefined ? {} : { headers }),
      });
    } catch (error) {
      const request = this.#pending.get(token);
      this.#pending.delete(token);
      request?.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * Fails every open request with NatsRequestReconnectedError: call it when the connection has been
   * re-established. nats.js drops what it had buffered, and a reply sent while this client was away went
   * nowhere, so those requests would otherwise only end at their timeouts. The caller resends (appends
   * carry a msgID, so a resend that was already stored is answered as a duplicate).
   */
  reconnected(): void {
    for (const [token, request] of this.#pending) {
      this.#pending.delete(token);
      request.reject(new NatsRequestReconnectedError(request.subject));
    }
  }

  /** Fails what is still open and stops listening. The connection belongs to the caller. */
  close(): void {
    this.#failAll();
    if (!this.#sub.isClosed()) this.#sub.unsubscribe();
  }

  #onReply(error: Error | null, msg: Msg): void {
    const token = msg.subject.slice(this.#prefix.length);
    const request = this.#pending.get(token);
    if (request === undefined) return;
    this.#pending.delete(token);
    if (error !== null) request.reject(error);
    else if (msg.data.length === 0 && msg.headers?.code === 503)
      request.reject(new NatsNoRespondersError(request.subject));
    else request.resolve(msg);
  }

  #startSweeping(): void {
    if (this.#sweeper !== null) return;
    this.#sweeper = setInterval(() => this.#sweep(), SWEEP_MS);
    this.#sweeper.unref();
  }

  #sweep(): void {
    const now = Date.now();
    for (const [token, request] of this.#pending) {
      if (request.deadline > now) continue;
      this.#pending.delete(token);
      request.reject(new NatsRequestTimeoutError(request.subject, request.timeoutMs));
    }
    if (this.#pending.size === 0 && this.#sweeper !== null) {
      clearInterval(this.#sweeper);
      this.#sweeper = null;
    }
  }

  #failAll(): void {
    for (const [token, request] of this.#pending) {
      this.#pending.delete(token);
      request.reject(new NatsRequestClosedError(request.subject));
    }
    if (this.#sweeper !== null) {
      clearInterval(this.#sweeper);
      this.#sweeper = null;
    }
  }
}

/** The connection's `inboxPrefix` option: nats.js keeps its options on the connection, not in its type. */
function connectionInboxPrefix(nc: NatsConnection): string | undefined {
  return (nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix;
}
