import { setTimeout as sleep } from 'node:timers/promises';
import { WorkerApiError, WorkerNetworkError } from './worker-transport.ts';

export interface RetryOptions {
  /** Attempts in all, when no `retryUntil` is given. Default 6. */
  attempts?: number;
  /**
   * Retry until this moment (epoch ms) instead of a number of attempts; read before every retry, so a
   * deadline that moves (a lease a heartbeat extended meanwhile) is followed.
   */
  retryUntil?: () => number;
  /** First delay; doubles each time, capped at `maxDelayMs`. Default 200 ms. */
  baseDelayMs?: number;
  /** Default 5000 ms. */
  maxDelayMs?: number;
  /** Ends the retries: the last error is thrown at once. */
  signal?: AbortSignal;
}

/**
 * Whether a failed worker call may simply be sent again: the server could not be reached (connection
 * refused, a timeout, NATS "no responders"), it answered 503 (not ready, or its store is unavailable), or
 * it asked to slow down. Every worker call is idempotent (claims by requestId, results by claim token,
 * heartbeats and releases by their token), so this is safe.
 */
export function isRetryable(error: unknown): boolean {
  if (error instanceof WorkerNetworkError) return true;
  return error instanceof WorkerApiError && (error.status === 503 || error.code === 'AM_ERR_RATE_LIMITED');
}

/**
 * Calls `call` until it succeeds or fails for good: a failure that is not retryable, the last attempt,
 * the `retryUntil` moment, or the signal. `call` gets the time it may take (ms), so no single request runs
 * past the deadline. A rate limit is waited out at least as long as the server asked.
 */
export async function withRetry<T>(
  call: (timeoutMs: number) => Promise<T>,
  opts: RetryOptions & { timeoutMs?: number } = {},
): Promise<T> {
  const attempts = opts.attempts ?? 6;
  const timeoutMs = opts.timeoutMs ?? Number.POSITIVE_INFINITY;
  let delay = opts.baseDelayMs ?? 200;
  for (let attempt = 1; ; attempt++) {
    const until = opts.retryUntil?.();
    const budget = until === undefined ? timeoutMs : Math.min(timeoutMs, Math.max(500, until - Date.now()));
    try {
      return await call(budget);
    } catch (error) {
      if (!isRetryable(error) || opts.signal?.aborted) throw error;
      const rateLimited = error instanceof WorkerApiError && error.code === 'AM_ERR_RATE_LIMITED';
      const wait = rateLimited ? Math.max(delay, error.retryAfterMs ?? 0) : delay;
      const deadline = opts.retryUntil?.();
      if (deadline === undefined ? attempt >= attempts : Date.now() + wait >= deadline) throw error;
      await sleep(wait, undefined, opts.signal ? { signal: opts.signal } : undefined).catch(() => {});
      if (opts.signal?.aborted) throw error;
      delay = Math.min(delay * 2, opts.maxDelayMs ?? 5_000);
    }
  }
}
