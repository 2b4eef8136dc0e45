import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { type EncodedHeaders, encodeHeaders } from '../nats-encoded-headers.ts';
import { NatsRequestMux } from '../nats-request-mux.ts';
import type {
  ClaimReply,
  ClaimRequest,
  CommandReply,
  HeartbeatReply,
  HeartbeatRequest,
  ProgressRequest,
  ReleaseRequest,
  SeqReply,
  SubmitResultReply,
  SubmitResultRequest,
} from '../protocol/index.ts';
import { hedgedClaim } from './hedged-claim.ts';
import { withRetry } from './retry.ts';
import { WorkerApiError, WorkerNetworkError, type WorkerTransport } from './worker-transport.ts';

export interface NatsTransportOptions {
  servers: string | string[];
  token: string;
  user?: string;
  password?: string;
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

/** The worker's NATS transport: request/reply on `am.cmd.v1.<Operation>` plus READY hints, no polling. */
export class NatsTransport implements WorkerTransport {
  readonly kind = 'nats' as const;
  private readonly prefix: string;
  private readonly hintListeners = new Set<() => void>();
  private readonly requests: NatsRequestMux;
  /** The same on every request, so encoded once. */
  private readonly authorizationHeader: EncodedHeaders;

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
    transport.subscribeHints();
    return transport;
  }

  async claim(body: ClaimRequest, signal?: AbortSignal): Promise<ClaimReply | null> {
    const waitMs = body.waitMs ?? 0;
    const call = hedgedClaim({
      waitMs,
      send: (remainingMs, isCurrent) =>
        withRetry(
          async () => {
            if (!isCurrent()) throw new Error('superseded by a newer copy of this claim');
            return this.request<ClaimReply | null>(
              'ClaimTask',
              { ...body, waitMs: remainingMs },
              remainingMs,
            );
          },
          signal ? { signal } : {},
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

  heartbeat(taskId: string, body: HeartbeatRequest): Promise<HeartbeatReply> {
    return withRetry(() => this.request<HeartbeatReply>('ExtendLease', { ...body, taskId }), { attempts: 3 });
  }

  progress(taskId: string, body: ProgressRequest): Promise<SeqReply> {
    return withRetry(() => this.request<SeqReply>('ReportProgress', { ...body, taskId }), { attempts: 3 });
  }

  release(taskId: string, body: ReleaseRequest): Promise<SeqReply> {
    return withRetry(() => this.request<SeqReply>('ReleaseTask', { ...body, taskId }));
  }

  submitResult(body: SubmitResultRequest): Promise<SubmitResultReply> {
    return withRetry(() => this.request<SubmitResultReply>('SubmitResult', body), { attempts: 10 });
  }

  onReadyHint(listener: () => void): () => void {
    this.hintListeners.add(listener);
    return () => this.hintListeners.delete(listener);
  }

  /** Closes at once: by now every result is acknowledged; draining would wait out abandoned long-polls. */
  async close(): Promise<void> {
    this.requests.close();
    if (!this.nc.isClosed()) await this.nc.close();
  }

  private subscribeHints(): void {
    this.nc.subscribe(this.opts.readySubject ?? 'am.notify.v1.ready', {
      callback: () => {
        for (const listener of this.hintListeners) listener();
      },
    });
  }

  private async request<T>(operation: string, body: unknown, extraTimeoutMs = 0): Promise<T> {
    let raw: Uint8Array;
    try {
      const msg = await this.requests.request(`${this.prefix}.${operation}`, JSON.stringify(body), {
        timeoutMs: (this.opts.timeoutMs ?? 10_000) + extraTimeoutMs,
        headers: this.authorizationHeader,
      });
      raw = msg.data;
    } catch (error) {
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
