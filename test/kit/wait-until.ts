export interface WaitUntilOptions {
  /** Give up after this long. Default: 5000 ms. */
  timeoutMs?: number;
  /** Pause between checks. Default: 20 ms. */
  intervalMs?: number;
  /** What was awaited, for the timeout error. Default: "condition". */
  message?: string;
}

/** Polls `predicate` until it returns true; throws `message` (and the predicate's last error) on timeout. */
export async function waitUntil(
  predicate: () => boolean | Promise<boolean>,
  options: WaitUntilOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const intervalMs = options.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await predicate()) return;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      throw new Error(`waitUntil timed out after ${timeoutMs} ms: ${options.message ?? 'condition'}`, {
        ...(lastError === undefined ? {} : { cause: lastError }),
      });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
