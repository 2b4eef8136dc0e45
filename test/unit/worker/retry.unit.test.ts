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
