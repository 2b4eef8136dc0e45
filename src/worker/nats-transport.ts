import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { type EncodedHeaders, encodeHeaders } from '../nats/encoded-headers.ts';
import { NatsRequestMux } from '../nats/request-mux.ts';
import {
  type ClaimReply,
  type ClaimRequest,
  type CommandReply,
  type HeartbeatReply,
  type HeartbeatRequest,
  inboxPrefixOf,
  type ProgressRequest,
  type ReleaseRequest,
  type SeqReply,
  type SubmitResultReply,
  type SubmitResultRequest,
} from '../protocol/index.ts';
import { hedgedClaim } from './hedged-claim.ts';
import { isRetryable, withRetry } from './retry.ts';
import { outgoingTraceparent } from './trace-context.ts';
import {
  type CallOptions,
  type LinkChange,
  LinkState,
  WorkerApiError,
  WorkerNetworkError,
  type WorkerTransport,
} from './worker-transport.ts';

export interface NatsTransportOptions {
  servers: string | string[];
  token: string;
  /**
   * The agent's own NATS user (`nats_user`). Its connection uses the inbox prefix `_INBOX.<user>`, the
   * only inbox an AM-configured server lets it read.
   */
  user?: string;
  password?: string;
  /** Overrides the inbox prefix (default `_INBOX.<user>` with a user, else nats.js's `_INBOX`). */
  inboxPrefix?: string;
  /** Subject prefix of the command service. Default `am.cmd.v1`. */
  commandPrefix?: string;
  /** Subject of READY hints. Default `am.notify.v1.ready`. */
  readySubject?: string;
  /** Per-request timeout on top of a claim's waitMs. Default 10000 ms. */
  timeoutMs?: number;
  /** A READY hint re-sends a claim that has waited this long (see hedgedClaim). Default 500 ms. */
  hedgeAfterMs?: number;
  name?: string;
}

const decoder = new TextDecoder();

function inboxOption(opts: NatsTransportOptions): { inboxPrefix?: string } {
  const prefix = opts.inboxPrefix ?? (opts.user === undefined ? undefined : inboxPrefixOf(opts.user));
  return prefix === undefined ? {} : { inboxPrefix: prefix };
}

/** The worker's NATS transport: request/reply on `am.cmd.v1.<Operation>` plus READY hints, no polling. */
export class NatsTransport implements WorkerTransport {
  readonly kind = 'nats' as const;
  private readonly prefix: string;
  private readonly hintListeners = new Set<() => void>();
  private readonly requests: NatsRequestMux;
  private readonly link = new LinkState();
  /** The same on every request, so encoded once. */
  private readonly authorizationHeader: EncodedHeaders;
  /** Set when NATS closed the connection for good because it refused this agent's user. */
  private refusedBy: Error | null = null;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly opts: NatsTransportOptions,
  ) {
    this.prefix = opts.commandPrefix ?? 'am.cmd.v1';
    this.requests = new NatsRequestMux(nc);
    this.authorizationHeader = encodeHeaders([['authorization', `Bearer ${opts.token}`]]);
  }

  static async connect(opts: NatsTransportOptions): Promise<NatsTransport> {
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: opts.servers,
        name: opts.name ?? 'am-worker',
        maxReconnectAttempts: -1,
        reconnectTimeWait: 1_000,
        ...(opts.user === undefined ? {} : { user: opts.user }),
        ...(opts.password === undefined ? {} : { pass: opts.password }),
        ...inboxOption(opts),
      });
    } catch (error) {
      throw new WorkerNetworkError(
        `cannot reach NATS at ${String(opts.servers)}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    const transport = new NatsTransport(nc, opts);
    void nc.closed().then((error) => {
      // nats.js gives up reconnecting when the server refuses the user twice: revoked or rotated.
      if (error && (error.name === 'AuthorizationError' || /authorization violation/i.test(error.message))) {
        transport.refusedBy = error;
      }
    });
    transport.subscribeHints();
    void transport.followStatus();
    return transport;
  }

  async claim(body: ClaimRequest, opts: CallOptions = {}): Promise<ClaimReply | null> {
    const { signal } = opts;
    const waitMs = body.waitMs ?? 0;
    const call = hedgedClaim({
      waitMs,
      send: (remainingMs, isCurrent) =>
        this.call(
          async (timeoutMs) => {
            if (!isCurrent()) throw new Error('superseded by a newer copy of this claim');
            return this.request<ClaimReply | null>('ClaimTask', { ...body, waitMs: remainingMs }, timeoutMs);
          },
          opts,
          { extraTimeoutMs: remainingMs },
        ),
      onHint: (listener) => this.onReadyHint(listener),
      hedgeAfterMs: this.opts.hedgeAfterMs ?? 500,
      onLateClaim: (claim) => {
        void this.release(claim.task.id, {
          graphId: claim.task.graphId,
          claimToken: claim.claimToken,
          reason: 'claimed by a superseded request',
        }).catch(() => {
          // The lease expires and the task is offered again.
        });
      },
    });
    if (!signal) return call;
    // A NATS request cannot be withdrawn: on abort stop waiting for it. The worker then asks again with the
    // same requestId and waitMs 0 and releases whatever the abandoned long-poll claimed.
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal.reason ?? new Error('aborted'));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      call.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  heartbeat(taskId: string, body: HeartbeatRequest, opts: CallOptions = {}): Promise<HeartbeatReply> {
    return this.call(
      (timeoutMs) => this.request<HeartbeatReply>('ExtendLease', { ...body, taskId }, timeoutMs),
      opts,
      { attempts: 3 },
    );
  }

  progress(taskId: string, body: ProgressRequest, opts: CallOptions = {}): Promise<SeqReply> {
    return this.call(
      (timeoutMs) => this.request<SeqReply>('ReportProgress', { ...body, taskId }, timeoutMs),
      opts,
      { attempts: 3 },
    );
  }

  release(taskId: string, body: ReleaseRequest, opts: CallOptions = {}): Promise<SeqReply> {
    return this.call(
      (timeoutMs) => this.request<SeqReply>('ReleaseTask', { ...body, taskId }, timeoutMs),
      opts,
    );
  }

  submitResult(body: SubmitResultRequest, opts: CallOptions = {}): Promise<SubmitResultReply> {
    return this.call((timeoutMs) => this.request<SubmitResultReply>('SubmitResult', body, timeoutMs), opts, {
      attempts: 10,
    });
  }

  onReadyHint(listener: () => void): () => void {
    this.hintListeners.add(listener);
    return () => this.hintListeners.delete(listener);
  }

  onLinkChange(listener: (change: LinkChange) => void): () => void {
    return this.link.onChange(listener);
  }

  /** Closes at once: by now every result is acknowledged; draining would wait out abandoned long-polls. */
  async close(): Promise<void> {
    this.requests.close();
    if (!this.nc.isClosed()) await this.nc.close();
  }

  private call<T>(
    run: (timeoutMs: number) => Promise<T>,
    opts: CallOptions,
    defaults: { attempts?: number; extraTimeoutMs?: number } = {},
  ): Promise<T> {
    return withRetry(
      async (timeoutMs) => {
        try {
          const reply = await run(timeoutMs);
          this.link.restored('an AM server answers over NATS again');
          return reply;
        } catch (error) {
          if (isRetryable(error) && !opts.signal?.aborted) this.link.lost((error as Error).message);
          throw error;
        }
      },
      {
        timeoutMs: (this.opts.timeoutMs ?? 10_000) + (defaults.extraTimeoutMs ?? 0),
        ...(defaults.attempts === undefined ? {} : { attempts: defaults.attempts }),
        ...(opts.retryUntil === undefined ? {} : { retryUntil: opts.retryUntil }),
        ...(opts.signal === undefined ? {} : { signal: opts.signal }),
      },
    );
  }

  private subscribeHints(): void {
    this.nc.subscribe(this.opts.readySubject ?? 'am.notify.v1.ready', {
      callback: () => {
        for (const listener of this.hintListeners) listener();
      },
    });
  }

  /**
   * The connection's own news: a disconnect is a lost link at once, not at the next request's timeout; at
   * a reconnect, requests still open fail at once (their replies went nowhere while this client was away)
   * and are retried with the same body, instead of each waiting out its timeout.
   */
  private async followStatus(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === 'disconnect') this.link.lost(`NATS disconnected (${String(this.opts.servers)})`);
      else if (status.type === 'reconnect') this.requests.reconnected();
    }
  }

  /** The authorization header, plus the active span's traceparent while a traced task runs. */
  #headers(): EncodedHeaders {
    const traceparent = outgoingTraceparent();
    if (traceparent === undefined) return this.authorizationHeader;
    return encodeHeaders([
      ['authorization', `Bearer ${this.opts.token}`],
      ['traceparent', traceparent],
    ]);
  }

  private async request<T>(operation: string, body: unknown, timeoutMs: number): Promise<T> {
    let raw: Uint8Array;
    try {
      const msg = await this.requests.request(`${this.prefix}.${operation}`, JSON.stringify(body), {
        timeoutMs,
        headers: this.#headers(),
      });
      raw = msg.data;
    } catch (error) {
      if (this.refusedBy !== null) {
        throw new WorkerApiError(
          401,
          'AM_ERR_AUTH_INVALID',
          `NATS no longer accepts user ${this.opts.user ?? '(none)'} (${this.refusedBy.message}): the agent was revoked or its credentials rotated`,
        );
      }
      throw new WorkerNetworkError(`${operation} over NATS failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const reply = JSON.parse(decoder.decode(raw)) as CommandReply<T>;
    if (reply.ok) return reply.data;
    const { retryAfterSec } = reply.error;
    throw new WorkerApiError(
      reply.error.status,
      reply.error.code,
      reply.error.detail,
      retryAfterSec === undefined ? undefined : retryAfterSec * 1000,
    );
  }
}
