/**
 * Work deferred to the end of the current event-loop turn (the check phase, after the I/O callbacks),
 * in two passes that are two setImmediate callbacks scheduled together: first every send queued this
 * turn, then background work. nats.js writes its buffer to the socket once per microtask checkpoint,
 * and Node runs one after each setImmediate callback: because all of a turn's sends run in one
 * callback, its appends and replies leave in one write per connection (a loopback write costs tens of
 * microseconds), and they are on the wire before background work (the projector's fold) starts: no
 * request waits for a batch it does not need. A callback that throws does not stop the others (each
 * owns its error handling).
 *
 * One instance per process part that shares a connection: an AM node's event store, command service and
 * projector share one, so their sends group and the fold waits for all of them. Two nodes in one process
 * (tests) each have their own.
 */
export class TurnEnd {
  #sends: Array<() => void> = [];
  #background: Array<() => void> = [];
  #scheduled = false;

  /** Runs `send` at the end of this turn, before any background work of the turn. */
  send(send: () => void): void {
    this.#sends.push(send);
    this.#schedule();
  }

  /** Runs `work` at the end of this turn, once the turn's sends are written. */
  afterSends(work: () => void): void {
    this.#background.push(work);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#runSends());
    setImmediate(() => this.#runBackground());
  }

  #runSends(): void {
    const queued = this.#sends;
    this.#sends = [];
    runAll(queued);
  }

  #runBackground(): void {
    // Work queued from here on (a send made by background work, say) belongs to the next turn.
    this.#scheduled = false;
    const queued = this.#background;
    this.#background = [];
    runAll(queued);
    // Sends queued by the sends' own callbacks after they were drained (none in practice) still go out.
    if (this.#sends.length > 0) this.#schedule();
  }
}

function runAll(queued: ReadonlyArray<() => void>): void {
  for (const fn of queued) {
    try {
      fn();
    } catch {
      // The callback owns its error handling; nothing more to do here.
    }
  }
}
