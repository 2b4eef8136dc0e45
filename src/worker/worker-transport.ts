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

/** How a worker talks to the server: HTTP (fetch, long-poll) or NATS (request/reply plus ready hints). */
export interface WorkerTransport {
  readonly kind: 'http' | 'nats';
  /** Resolves null when no work came within `waitMs`. */
  claim(body: ClaimRequest, signal?: AbortSignal): Promise<ClaimReply | null>;
  heartbeat(taskId: string, body: HeartbeatRequest): Promise<HeartbeatReply>;
  progress(taskId: string, body: ProgressRequest): Promise<SeqReply>;
  release(taskId: string, body: ReleaseRequest): Promise<SeqReply>;
  submitResult(body: SubmitResultRequest): Promise<SubmitResultReply>;
  /** Calls back when the server hints that work is READY (NATS); returns an unsubscribe. */
  onReadyHint?(listener: () => void): () => void;
  close(): Promise<void>;
}

/** An error reply from the server: its HTTP-style status and stable code. */
export class WorkerApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    /** How long the server asked to wait (429 AM_ERR_RATE_LIMITED), when it said. */
    readonly retryAfterMs?: number,
  ) {
    super(`${code} (${status}): ${detail}`);
    this.name = 'WorkerApiError';
  }
}

/** The server could not be reached (connection refused, DNS, timeout): safe to retry idempotent calls. */
export class WorkerNetworkError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WorkerNetworkError';
  }
}
