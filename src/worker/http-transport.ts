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
import { withRetry } from './retry.ts';
import { WorkerApiError, WorkerNetworkError, type WorkerTransport } from './worker-transport.ts';

export interface HttpTransportOptions {
  serverUrl: string;
  token: string;
  /** Per-request timeout on top of a claim's waitMs. Default 10000 ms. */
  timeoutMs?: number;
}

/** The worker's HTTP transport: Node's fetch, bearer auth, retries on network errors. */
export class HttpTransport implements WorkerTransport {
  readonly kind = 'http' as const;
  private readonly base: string;

  constructor(private readonly opts: HttpTransportOptions) {
    this.base = opts.serverUrl.replace(/\/+$/, '');
  }

  async claim(body: ClaimRequest, signal?: AbortSignal): Promise<ClaimReply | null> {
    // The same requestId on every retry: a claim whose reply was lost is returned, not made twice.
    return withRetry(
      () =>
        this.post<ClaimReply | null>('/v1/tasks/claim', body, { extraTimeoutMs: body.waitMs ?? 0, signal }),
      signal ? { signal } : {},
    );
  }

  heartbeat(taskId: string, body: HeartbeatRequest): Promise<HeartbeatReply> {
    return withRetry(
      () => this.post<HeartbeatReply>(`/v1/tasks/${encodeURIComponent(taskId)}/heartbeat`, body),
      {
        attempts: 3,
      },
    );
  }

  progress(taskId: string, body: ProgressRequest): Promise<SeqReply> {
    return withRetry(() => this.post<SeqReply>(`/v1/tasks/${encodeURIComponent(taskId)}/progress`, body), {
      attempts: 3,
    });
  }

  release(taskId: string, body: ReleaseRequest): Promise<SeqReply> {
    return withRetry(() => this.post<SeqReply>(`/v1/tasks/${encodeURIComponent(taskId)}/release`, body));
  }

  submitResult(body: SubmitResultRequest): Promise<SubmitResultReply> {
    return withRetry(() => this.post<SubmitResultReply>('/v1/results', body), { attempts: 10 });
  }

  async close(): Promise<void> {}

  private async post<T>(
    path: string,
    body: unknown,
    opts: { extraTimeoutMs?: number; signal?: AbortSignal | undefined } = {},
  ): Promise<T> {
    const timeout = AbortSignal.timeout((this.opts.timeoutMs ?? 10_000) + (opts.extraTimeoutMs ?? 0));
    const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.opts.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal,
      });
    } catch (error) {
      if (opts.signal?.aborted) throw error;
      throw new WorkerNetworkError(`cannot reach ${this.base}: ${describe(error)}`, { cause: error });
    }
    if (response.status === 204) return null as T;
    const text = await response.text();
    if (response.ok) return (text ? JSON.parse(text) : null) as T;
    if (response.status >= 502 && response.status <= 504) {
      throw new WorkerNetworkError(`${this.base} answered ${response.status}`);
    }
    let problem: { code?: string; detail?: string; title?: string } = {};
    try {
      problem = JSON.parse(text) as typeof problem;
    } catch {
      // not problem+json: keep the status
    }
    const retryAfterSec = Number(response.headers.get('retry-after') ?? Number.NaN);
    throw new WorkerApiError(
      response.status,
      problem.code ?? `HTTP_${response.status}`,
      problem.detail ?? problem.title ?? text,
      Number.isFinite(retryAfterSec) ? retryAfterSec * 1000 : undefined,
    );
  }
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}
