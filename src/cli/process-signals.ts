/** Why a long-running command stops: a signal, or the reader of its stdout went away. */
export type StopReason = NodeJS.Signals | 'stdout closed';

/**
 * Resolves on the first SIGINT or SIGTERM, or when stdout is closed (`am up | head -1`); a second
 * signal exits at once (the operator insists).
 */
export function untilSignal(): Promise<StopReason> {
  return new Promise((resolve) => {
    let received = false;
    const handler = (signal: NodeJS.Signals) => {
      if (received) process.exit(130);
      received = true;
      resolve(signal);
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
    onStdoutClosed(() => {
      received = true;
      resolve('stdout closed');
    });
  });
}

/**
 * Runs `stop` with a deadline: if it has not finished within `deadlineMs`, `onOverrun` is told and the
 * process exits with code 1 (a dead NATS or server must not hold a shutdown open; a supervisor's SIGKILL
 * would otherwise end it less kindly). Once `stop` is done, nothing left behind (a socket to a peer that
 * never answers) may keep the process alive for more than a second.
 */
export async function stopWithin(
  deadlineMs: number,
  stop: () => Promise<void>,
  onOverrun: () => void,
): Promise<void> {
  const deadline = setTimeout(() => {
    onOverrun();
    process.exit(1);
  }, deadlineMs);
  try {
    await stop();
  } finally {
    clearTimeout(deadline);
  }
  setTimeout(() => process.exit(), 1_000).unref();
}

/** A failure that ends a long-running command (the projector stopped for good), as a promise to race. */
export function untilFatal(): { failed: Promise<unknown>; report: (error: unknown) => void } {
  let report: (error: unknown) => void = () => {};
  const failed = new Promise<unknown>((resolve) => {
    report = resolve;
  });
  return { failed, report: (error) => report(error) };
}

let stdoutClosed = false;
const stdoutClosedListeners = new Set<() => void>();

/**
 * A closed stdout (`am events ID --json | head -2`) ends the command quietly with exit 0, as SIGPIPE
 * ends a Unix filter, instead of an EPIPE stack trace. A command that holds resources (NATS, workers,
 * a lock) registers with `onStdoutClosed` and is told instead, so it shuts down in order; later writes
 * fail silently into this listener.
 */
export function guardStdout(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    if (stdoutClosed) return;
    stdoutClosed = true;
    if (stdoutClosedListeners.size === 0) process.exit(0);
    for (const listener of [...stdoutClosedListeners]) listener();
  });
}

/** Calls `listener` once stdout is closed (at once if it already is); returns the unregistration. */
export function onStdoutClosed(listener: () => void): () => void {
  if (stdoutClosed) {
    listener();
    return () => {};
  }
  stdoutClosedListeners.add(listener);
  return () => stdoutClosedListeners.delete(listener);
}
