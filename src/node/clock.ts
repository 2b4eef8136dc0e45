/** A timer a Clock handed out. */
export interface ClockTimer {
  cancel(): void;
}

/**
 * Time and timers, as a port: the node's deciders, manager and claim path read the time and arm their
 * timers here, so tests drive them with a fake clock (test/kit/fake-clock.ts) instead of sleeping.
 * Timers never keep the process alive by themselves.
 */
export interface Clock {
  now(): number;
  /** Calls `fn` once, `ms` from now. */
  setTimeout(fn: () => void, ms: number): ClockTimer;
  /** Calls `fn` every `ms`. */
  setInterval(fn: () => void, ms: number): ClockTimer;
  /** Resolves `ms` from now, or as soon as `signal` aborts (it does not reject). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The real time and Node's timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const handle = setTimeout(fn, ms);
    handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
  setInterval(fn, ms) {
    const handle = setInterval(fn, ms);
    handle.unref();
    return { cancel: () => clearInterval(handle) };
  },
  sleep(ms, signal) {
    return new Promise((resolve) => {
      if (signal?.aborted) {
        resolve();
        return;
      }
      const done = () => {
        clearTimeout(handle);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const handle = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    });
  },
};
