/**
 * Work deferred to the end of the current event-loop turn (the check phase, after the I/O callbacks),
 * in two passes that are two setImmediate callbacks scheduled together: first every send queued this
 * turn, then background work. nats.js writes its buffer to the socket once per microtask checkpoint,
 * and Node runs one after each setImmediate callback: because all of a turn's sends run in one
 * callback, its appends and replies leave in one write per connection (a loopback write costs tens of
 * microseconds), and they are on the wire before background work (the projector's fold) starts: no
 * request waits for a batch it does not need. A callback that throws
 * does not stop the others (each owns its error handling).
 */
let sends: Array<() => void> = [];
let background: Array<() => void> = [];
let scheduled = false;

/** Runs `send` at the end of this turn, before any background work of the turn. */
export function sendAtTurnEnd(send: () => void): void {
  sends.push(send);
  schedule();
}

/** Runs `work` at the end of this turn, once the turn's sends are written. */
export function afterTurnSends(work: () => void): void {
  background.push(work);
  schedule();
}

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  setImmediate(runSends);
  setImmediate(runBackground);
}

function runSends(): void {
  const queued = sends;
  sends = [];
  runAll(queued);
}

function runBackground(): void {
  // Work queued from here on (a send made by background work, say) belongs to the next turn.
  scheduled = false;
  const queued = background;
  background = [];
  runAll(queued);
  // Sends queued by runSends' own callbacks after it drained (none in practice) still go out.
  if (sends.length > 0) schedule();
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
