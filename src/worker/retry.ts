import { setTimeout as sleep } from 'node:timers/promises';
import { WorkerApiError, WorkerNetworkError } from './worker-transport.ts';

export interface RetryOptions {
  /** Attempts in all. Default 6. */
  attempts?: number;
  /** First delay; doubles each time, capped at `maxDelayMs`. Default 200 ms. */
  baseDelayMs?: number;
  /** Default 5000 ms. */
  maxDelayMs?: number;
  signal?: AbortSignal;
}

/**
 * Retries a call on network errors and on the server's rate limit (waiting at least as long as it
 * asked), nothing else. Safe because every worker call is idempotent: claims by requestId, results by
 * claim token, heartbeats and releases by their token.
 */
export async function withRetry<T>(call: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 6;
  let delay = opts.baseDelayMs ?? 200;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      const rateLimited = error instanceof WorkerApiError && error.code === 'AM_ERR_RATE_LIMITED';
      if (
        !(error instanceof WorkerNetworkError || rateLimited) ||
        attempt >= attempts ||
        opts.signal?.aborted
      )
        throw error;
      const wait = rateLimited ? Math.max(delay, error.retryAfterMs ?? 0) : delay;
      await sleep(wait, undefined, opts.signal ? { signal: opts.signal } : undefined).catch(() => {});
      delay = Math.min(delay * 2, opts.maxDelayMs ?? 5_000);
    }
  }
}
