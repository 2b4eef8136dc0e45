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

/** How long a call may go on, and whether to give up early. */
export interface CallOptions {
  /** Rejects (with the signal's reason) once aborted; a long-poll stops waiting. */
  signal?: AbortSignal;
  /**
   * Retry retryable failures (unreachable, 503, rate limit) until this moment (epoch ms), read at every retry
   * so a deadline that moves is followed. Default: a few attempts.
   */
  retryUntil?: () => number;
}

/** The worker lost, or got back, its way to a server that serves it. */
export interface LinkChange {
  state: 'lost' | 'restored';
  /** What happened, for the log (e.g. "NATS disconnected", "http://host:8080 answered 503"). */
  detail: string;
}

/** How a worker talks to the server: HTTP (fetch, long-poll) or NATS (request/reply plus ready hints). */
export interface WorkerTransport {
  readonly kind: 'http' | 'nats';
  /** Resolves null when no work came within `waitMs`. */
  claim(body: ClaimRequest, opts?: CallOptions): Promise<ClaimReply | null>;
  heartbeat(taskId: string, body: HeartbeatRequest, opts?: CallOptions): Promise<HeartbeatReply>;
  progress(taskId: string, body: ProgressRequest, opts?: CallOptions): Promise<SeqReply>;
  release(taskId: string, body: ReleaseRequest, opts?: CallOptions): Promise<SeqReply>;
  submitResult(body: SubmitResultRequest, opts?: CallOptions): Promise<SubmitResultReply>;
  /** Calls back when the server hints that work is READY (NATS); returns an unsubscribe. */
  onReadyHint?(listener: () => void): () => void;
  /** Calls back when the way to a serving server is lost or back; returns an unsubscribe. */
  onLinkChange(listener: (change: LinkChange) => void): () => void;
  close(): Promise<void>;
}

/**
 * Whether the way to a serving server works, from the outcomes of calls (and, over NATS, the connection's
 * own status): told once when it is lost and once when it is back, not at every failed call.
 */
export class LinkState {
  #up = true;
  readonly #listeners = new Set<(change: LinkChange) => void>();

  onChange(listener: (change: LinkChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  lost(detail: string): void {
    if (!this.#up) return;
    this.#up = false;
    this.#tell({ state: 'lost', detail });
  }

  restored(detail: string): void {
    if (this.#up) return;
    this.#up = true;
    this.#tell({ state: 'restored', detail });
  }

  #tell(change: LinkChange): void {
    for (const listener of this.#listeners) listener(change);
  }
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
