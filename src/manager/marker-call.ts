import type { CommandOutcome, HeldMarker } from '../commands/index.ts';
import { AppError, isAppError } from '../errors.ts';
import type { ManagerRuntime } from './manager-runtime.ts';

/** How a leased LLM call behaves (PlanningStarted / AuditStarted markers). */
export interface MarkerSettings {
  /** The marker's lease (ms); renewed every third of it while the call runs. */
  markerMs: number;
  /** Markers (LLM attempts) per planning run or audit cycle. */
  maxAttempts: number;
  /** Backoff before the next attempt after a failed one (ms), doubling per attempt. */
  retryBaseMs: number;
  /** One call is abandoned after this long (ms) and counts as a failed attempt. */
  callTimeoutMs: number;
}

export type MarkerCallOutcome<T> =
  | { kind: 'done'; value: T; attempt: number }
  /** Every allowed marker was spent; `lastError` is what this manager saw fail last, if anything. */
  | { kind: 'exhausted'; attempts: number; lastError: AppError | null }
  /** Someone else holds the work, the graph moved on, or the manager is stopping: nothing to do. */
  | { kind: 'lost' };

export interface MarkerCallOptions<T> {
  rt: ManagerRuntime;
  graphId: string;
  /** For logs: `planning` or `audit`. */
  what: string;
  settings: MarkerSettings;
  signal: AbortSignal;
  /** Appends the marker: a fresh one or a takeover (`held` undefined), a renewal, or the next attempt. */
  startMarker(held: HeldMarker | undefined): Promise<CommandOutcome | AppError>;
  call(signal: AbortSignal): Promise<T>;
}

/**
 * Runs a paid LLM call under a marker, so two managers never pay for the same one: append the marker
 * (expected sequence: one manager wins), call while renewing it, and on failure back off and take the
 * next attempt while still holding it. When the markers are spent the caller ends the graph with a
 * coded reason — never a silent hang.
 */
export async function callUnderMarker<T>(opts: MarkerCallOptions<T>): Promise<MarkerCallOutcome<T>> {
  const { rt, graphId, what, settings, signal } = opts;
  let held: number | undefined;
  let lastError: AppError | null = null;
  while (!signal.aborted) {
    const started = await opts.startMarker(held === undefined ? undefined : { attempt: held, renew: false });
    if (isAppError(started)) {
      if (started.details?.refusal === 'marker_attempts_exhausted') {
        return { kind: 'exhausted', attempts: Number(started.details.attempts ?? held ?? 0), lastError };
      }
      rt.refused(started, { graphId }, `${what} marker`);
      return { kind: 'lost' };
    }
    const attempt = markerAttempt(started);
    if (attempt === null || signal.aborted) return { kind: 'lost' };
    const result = await callWithLease(opts, attempt);
    if (result.kind === 'done') return { kind: 'done', value: result.value, attempt };
    if (result.kind === 'lost') return { kind: 'lost' };
    lastError = result.error;
    rt.log.warn(
      { graphId, attempt, code: lastError.code, detail: lastError.message },
      `${what} attempt failed`,
    );
    const backoff = Math.min(settings.retryBaseMs * 2 ** (attempt - 1), settings.markerMs / 2, 60_000);
    await rt.clock.sleep(backoff, signal);
    if (signal.aborted) return { kind: 'lost' };
    held = attempt;
  }
  return { kind: 'lost' };
}

type LeasedResult<T> = { kind: 'done'; value: T } | { kind: 'failed'; error: AppError } | { kind: 'lost' };

async function callWithLease<T>(opts: MarkerCallOptions<T>, attempt: number): Promise<LeasedResult<T>> {
  const { rt, graphId, what, settings, signal } = opts;
  const lease = new AbortController();
  const callSignal = AbortSignal.any([signal, lease.signal]);
  let lost = false;
  let renewal: Promise<void> = Promise.resolve();
  const renew = rt.clock.setInterval(
    () => {
      // Chained: one renewal at a time, and the last one is awaited before the caller appends again.
      renewal = renewal.then(async () => {
        if (callSignal.aborted) return;
        const renewed = await opts.startMarker({ attempt, renew: true });
        if (!isAppError(renewed)) return;
        rt.refused(renewed, { graphId, attempt }, `${what} marker renewal`);
        lost = true;
        lease.abort(new AppError('AM_ERR_LLM_ABORTED', `the ${what} marker is no longer held`));
      });
    },
    Math.max(50, Math.floor(settings.markerMs / 3)),
  );
  const deadline = rt.clock.setTimeout(() => {
    lease.abort(
      new AppError(
        'AM_ERR_LLM_UNAVAILABLE',
        `the ${what} call gave no answer within ${settings.callTimeoutMs} ms`,
      ),
    );
  }, settings.callTimeoutMs);
  try {
    return { kind: 'done', value: await untilAborted(opts.call(callSignal), callSignal) };
  } catch (error) {
    if (signal.aborted || lost) return { kind: 'lost' };
    return { kind: 'failed', error: asAppError(lease.signal.aborted ? lease.signal.reason : error) };
  } finally {
    renew.cancel();
    deadline.cancel();
    await renewal;
  }
}

/** The attempt of the marker just appended (PlanningStarted / AuditStarted). */
function markerAttempt(outcome: CommandOutcome): number | null {
  const event = outcome.event;
  if (event?.type === 'PlanningStarted' || event?.type === 'AuditStarted') return event.data.attempt;
  return null;
}

/** A call that ignores its signal is abandoned rather than awaited: the manager must not hang on it. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  let onAbort = (): void => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  // An abandoned call may still reject later; that is expected, not an unhandled rejection.
  promise.catch(() => {});
  return Promise.race([promise, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}

function asAppError(error: unknown): AppError {
  if (isAppError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new AppError('AM_ERR_INTERNAL', message, { cause: error });
}
