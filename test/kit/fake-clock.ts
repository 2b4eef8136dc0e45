import type { Clock, ClockTimer } from '../../src/node/clock.ts';

interface FakeTimer {
  at: number;
  every: number | null;
  fn: () => void;
}

/**
 * A Clock whose time moves only when a test says so (`advance`), with timers that fire in time order on
 * the way: the manager's sweeps and lease timers, marker renewals and backoffs run on it, so a test of
 * "the lease ran out" takes no real time and a test of "nothing happened yet" needs no sleep.
 */
export class FakeClock implements Clock {
  #now: number;
  #next = 0;
  readonly #timers = new Map<number, FakeTimer>();

  /** Starts at `start` (default: the real time now, so stored times look ordinary). */
  constructor(start = Date.now()) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): ClockTimer {
    return this.#add(fn, ms, null);
  }

  setInterval(fn: () => void, ms: number): ClockTimer {
    return this.#add(fn, ms, Math.max(1, ms));
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) {
        resolve();
        return;
      }
      const timer = this.#add(() => done(), ms, null);
      const done = () => {
        timer.cancel();
        signal?.removeEventListener('abort', done);
        resolve();
      };
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Timers armed and not fired (intervals count once). */
  get pending(): number {
    return this.#timers.size;
  }

  /**
   * Moves time forward by `ms`, firing every timer due on the way in time order; after each, lets the
   * event loop turn so what the timer started (a promise chain, an append) gets going first.
   */
  async advance(ms: number): Promise<void> {
    const target = this.#now + Math.max(0, ms);
    for (;;) {
      const due = this.#earliest(target);
      if (due === null) break;
      const [id, timer] = due;
      this.#now = Math.max(this.#now, timer.at);
      if (timer.every === null) this.#timers.delete(id);
      else timer.at += timer.every;
      timer.fn();
      await turn();
    }
    this.#now = target;
    await turn();
  }

  /**
   * Drives the clock `stepMs` at a time until `done()` holds: for outcomes that need fake time to pass
   * (backoffs, marker leases) and real I/O between the steps (appends, deliveries), which gets a
   * millisecond of real time after each step. Throws after `maxMs` of fake time.
   */
  async runUntil(
    done: () => boolean | Promise<boolean>,
    opts: { stepMs?: number; maxMs?: number; message?: string } = {},
  ): Promise<void> {
    const stepMs = opts.stepMs ?? 50;
    const maxMs = opts.maxMs ?? 60_000;
    const limit = this.#now + maxMs;
    for (;;) {
      if (await done()) return;
      if (this.#now >= limit) {
        throw new Error(
          `FakeClock.runUntil: ${opts.message ?? 'condition'} not reached within ${maxMs} ms of fake time`,
        );
      }
      await this.advance(stepMs);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  #add(fn: () => void, ms: number, every: number | null): ClockTimer {
    const id = this.#next++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), every, fn });
    return { cancel: () => this.#timers.delete(id) };
  }

  #earliest(until: number): [number, FakeTimer] | null {
    let found: [number, FakeTimer] | null = null;
    for (const entry of this.#timers) {
      if (entry[1].at > until) continue;
      if (found === null || entry[1].at < found[1].at) found = entry;
    }
    return found;
  }
}

function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
