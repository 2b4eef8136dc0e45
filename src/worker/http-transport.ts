import type {
  ClaimReply,
  ClaimRequest,
  HeartbeatReply,
  HeartbeatRequest,
  ProgressRequest,
  ReleaseRequest,
  SeqReply,
  SubmitResultReply,
  SubmitResultRequest,
} from '../protocol/index.ts';
import { HttpPoster, type HttpPostReply } from './http-post.ts';
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

export interface HttpTransportOptions {
  serverUrl: string;
  token: string;
  /** Per-request timeout on top of a claim's waitMs. Default 10000 ms. */
  timeoutMs?: number;
}

/** The worker's HTTP transport: kept-alive node:http, bearer auth, retries on network errors and 503. */
export class HttpTransport implements WorkerTransport {
  readonly kind = 'http' as const;
  private readonly base: string;
  private readonly link = new LinkState();
  private readonly poster: HttpPoster;

  constructor(private readonly opts: HttpTransportOptions) {
    this.base = opts.serverUrl.replace(/\/+$/, '');
    this.poster = new HttpPoster(new URL(`${this.base}/`));
  }

  async claim(body: ClaimRequest, opts: CallOptions = {}): Promise<ClaimReply | null> {
    // The same requestId on every retry: a claim whose reply was lost is returned, not made twice.
    return this.call<ClaimReply | null>('/v1/tasks/claim', body, opts, { extraTimeoutMs: body.waitMs ?? 0 });
  }

  heartbeat(taskId: string, body: HeartbeatRequest, opts: CallOptions = {}): Promise<HeartbeatReply> {
    return this.call(`/v1/tasks/${encodeURIComponent(taskId)}/heartbeat`, body, opts, { attempts: 3 });
  }

  progress(taskId: string, body: ProgressRequest, opts: CallOptions = {}): Promise<SeqReply> {
    return this.call(`/v1/tasks/${encodeURIComponent(taskId)}/progress`, body, opts, { attempts: 3 });
  }

  release(taskId: string, body: ReleaseRequest, opts: CallOptions = {}): Promise<SeqReply> {
    return this.call(`/v1/tasks/${encodeURIComponent(taskId)}/release`, body, opts);
  }

  submitResult(body: SubmitResultRequest, opts: CallOptions = {}): Promise<SubmitResultReply> {
    return this.call('/v1/results', body, opts, { attempts: 10 });
  }

  onLinkChange(listener: (change: LinkChange) => void): () => void {
    return this.link.onChange(listener);
  }

  async close(): Promise<void> {
    this.poster.close();
  }

  private call<T>(
    path: string,
    body: unknown,
    opts: CallOptions,
    defaults: { attempts?: number; extraTimeoutMs?: number } = {},
  ): Promise<T> {
    const requestTimeoutMs = (this.opts.timeoutMs ?? 10_000) + (defaults.extraTimeoutMs ?? 0);
    return withRetry((timeoutMs) => this.post<T>(path, body, timeoutMs, opts.signal), {
      timeoutMs: requestTimeoutMs,
      ...(defaults.attempts === undefined ? {} : { attempts: defaults.attempts }),
      ...(opts.retryUntil === undefined ? {} : { retryUntil: opts.retryUntil }),
      ...(opts.signal === undefined ? {} : { signal: opts.signal }),
    });
  }

  private async post<T>(path: string, body: unknown, timeoutMs: number, caller?: AbortSignal): Promise<T> {
    try {
      const reply = await this.send<T>(path, body, timeoutMs, caller);
      this.link.restored(`${this.base} answers again`);
      return reply;
    } catch (error) {
      if (isRetryable(error) && !caller?.aborted) this.link.lost((error as Error).message);
      throw error;
    }
  }

  private async send<T>(path: string, body: unknown, timeoutMs: number, caller?: AbortSignal): Promise<T> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = caller ? AbortSignal.any([timeout, caller]) : timeout;
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.opts.token}`,
      'content-type': 'application/json',
    };
    const traceparent = outgoingTraceparent();
    if (traceparent !== undefined) headers.traceparent = traceparent;
    let response: HttpPostReply;
    try {
      response = await this.poster.post(path.replace(/^\//, ''), headers, JSON.stringify(body), signal);
    } catch (error) {
      if (caller?.aborted) throw error;
      throw new WorkerNetworkError(`cannot reach ${this.base}: ${describe(error)}`, { cause: error });
    }
    const { status, text } = response;
    if (status === 204) return null as T;
    if (status >= 200 && status < 300) return (text ? JSON.parse(text) : null) as T;
    if (status === 502 || status === 504) throw new WorkerNetworkError(`${this.base} answered ${status}`);
    let problem: { code?: string; detail?: string; title?: string } = {};
    try {
      problem = JSON.parse(text) as typeof problem;
    } catch {
      // not problem+json: keep the status
    }
    const retryAfterSec = Number(response.headers['retry-after'] ?? Number.NaN);
    throw new WorkerApiError(
      status,
      problem.code ?? `HTTP_${status}`,
      problem.detail ?? problem.title ?? text,
      Number.isFinite(retryAfterSec) ? retryAfterSec * 1000 : undefined,
    );
  }
}

function describe(error: unknown): string {
  // node:http puts the system code on the error itself (fetch put it on a cause); a timeout is an abort.
  const { code, name, message } = error as { code?: string; name?: string; message: string };
  if (name === 'AbortError' || name === 'TimeoutError') return 'no answer in time';
  return code ?? message;
}
