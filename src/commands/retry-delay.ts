/** The first retry waits this long (ms); each later attempt doubles it. */
export const RETRY_BASE_DELAY_MS = 1_000;
/** No retry waits longer than this (ms). */
export const RETRY_MAX_DELAY_MS = 60_000;

/**
 * Backoff before a task is offered again after its `attempt`-th attempt failed or expired:
 * 1 s · 2^(attempt-1), capped at 60 s, less up to 10 % jitter so tasks that failed together do not
 * all come back in the same instant. Deciders may not use randomness, so the jitter is derived from
 * `seed` (the claim token): the same decision always yields the same delay; no seed, no jitter.
 */
export function retryDelayMs(attempt: number, seed = ''): number {
  const exponent = Math.max(0, Math.min(30, Math.floor(attempt) - 1));
  const base = Math.min(RETRY_MAX_DELAY_MS, RETRY_BASE_DELAY_MS * 2 ** exponent);
  if (seed === '') return base;
  return base - Math.floor((base / 10) * (hash(seed) / 0x1_0000_0000));
}

/** FNV-1a, 32 bits: small, stable and good enough to spread delays. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
