import { describe, expect, it } from 'vitest';
import { withRetry } from '../../../src/worker/retry.ts';
import { WorkerApiError, WorkerNetworkError } from '../../../src/worker/worker-transport.ts';

/** A call that fails with the given errors in turn, then answers 'done'; counts its calls. */
function failingThen(errors: Error[]) {
  let calls = 0;
  return {
    calls: () => calls,
    call: async () => {
      const error = errors[calls];
      calls += 1;
      if (error) throw error;
      return 'done';
    },
  };
}

describe('withRetry', () => {
  it('retries network errors', async () => {
    const target = failingThen([new WorkerNetworkError('down'), new WorkerNetworkError('down')]);
    expect(await withRetry(target.call, { baseDelayMs: 1 })).toBe('done');
    expect(target.calls()).toBe(3);
  });

  it('retries the rate limit, waiting at least as long as the server asked', async () => {
    const limited = new WorkerApiError(429, 'AM_ERR_RATE_LIMITED', 'slow down', 120);
    const target = failingThen([limited]);
    const started = performance.now();
    expect(await withRetry(target.call, { baseDelayMs: 1 })).toBe('done');
    expect(target.calls()).toBe(2);
    expect(performance.now() - started).toBeGreaterThanOrEqual(110);
  });

  it('retries a 503 (the server is not ready, or its store is unavailable) on either transport', async () => {
    const notReady = new WorkerApiError(503, 'AM_ERR_NOT_READY', 'catching up');
    const storeDown = new WorkerApiError(503, 'AM_ERR_STORE_UNAVAILABLE', 'NATS is away');
    const target = failingThen([notReady, storeDown]);
    expect(await withRetry(target.call, { baseDelayMs: 1 })).toBe('done');
    expect(target.calls()).toBe(3);
  });

  it('with retryUntil, retries past the attempt count until that moment, read again at every retry', async () => {
    const errors = Array.from({ length: 12 }, (_, n) => new WorkerNetworkError(`down ${n}`));
    const target = failingThen(errors);
    let until = Date.now() + 40;
    const moving = () => until;
    const started = Date.now();
    // A heartbeat extends the lease while the result is retried: the deadline moves out once.
    setTimeout(() => {
      until = Date.now() + 5_000;
    }, 20);
    expect(
      await withRetry(target.call, { attempts: 2, retryUntil: moving, baseDelayMs: 1, maxDelayMs: 8 }),
    ).toBe('done');
    expect(target.calls()).toBe(13);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('with retryUntil, gives up with the last error once the next try would start past it', async () => {
    const errors = Array.from({ length: 100 }, (_, n) => new WorkerNetworkError(`down ${n}`));
    const target = failingThen(errors);
    const until = Date.now() + 60;
    const started = Date.now();
    await expect(
      withRetry(target.call, { retryUntil: () => until, baseDelayMs: 5, maxDelayMs: 20 }),
    ).rejects.toBeInstanceOf(WorkerNetworkError);
    expect(Date.now() - started).toBeLessThan(200);
    expect(target.calls()).toBeGreaterThan(2);
  });

  it('hands each call the time it may take, never past retryUntil', async () => {
    const budgets: number[] = [];
    const until = Date.now() + 2_000;
    await withRetry(
      async (timeoutMs) => {
        budgets.push(timeoutMs);
        return 'done';
      },
      { timeoutMs: 10_000, retryUntil: () => until },
    );
    expect(budgets[0]).toBeLessThanOrEqual(2_000);
    expect(budgets[0]).toBeGreaterThan(1_500);
  });

  it('does not retry any other refusal', async () => {
    const stale = new WorkerApiError(409, 'AM_ERR_STALE_CLAIM', 'not yours');
    const target = failingThen([stale]);
    await expect(withRetry(target.call, { baseDelayMs: 1 })).rejects.toBe(stale);
    expect(target.calls()).toBe(1);
  });

  it('gives up after its attempts with the last error', async () => {
    const errors = [1, 2, 3].map((n) => new WorkerNetworkError(`down ${n}`));
    const target = failingThen(errors);
    await expect(withRetry(target.call, { attempts: 3, baseDelayMs: 1 })).rejects.toBe(errors[2]);
    expect(target.calls()).toBe(3);
  });
});
