/**
 * An AbortController that is only made when someone asks for its signal. On Node 20 a controller and
 * its signal cost microseconds (EventTarget machinery); a worker makes one per task, and most handlers
 * (plain code, no-op benchmarks) never look at it. Aborting before the signal exists is remembered, so
 * a signal asked for later is already aborted with the same reason.
 */
export class LazyAbort {
  #controller: AbortController | null = null;
  #aborted = false;
  #reason: unknown = undefined;

  get signal(): AbortSignal {
    if (this.#controller === null) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}
