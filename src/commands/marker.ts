import { AppError } from '../errors.ts';
import type { MarkerState } from '../events/index.ts';

/**
 * A marker the caller appended itself and still holds: it may renew it (same attempt, a new lease) while
 * its LLM call runs, or move on to the next attempt after a failed call without waiting for its own
 * lease to run out. Attempt numbers only grow, so the attempt identifies the holder.
 */
export interface HeldMarker {
  attempt: number;
  renew: boolean;
}

/**
 * The attempt number of the next marker (PlanningStarted, AuditStarted) for slow LLM work: 1 when there
 * is none, the next one when the current marker's lease has run out (its manager is presumed gone), and
 * AM_ERR_GRAPH_STATE while it is held or once `maxAttempts` markers were spent. `details.refusal` tells
 * the two apart: `marker_held` (leave it to its holder) or `marker_attempts_exhausted` (fail the graph).
 */
export function nextMarkerAttempt(
  marker: MarkerState | null,
  now: number,
  maxAttempts: number,
  what: string,
  held?: HeldMarker,
): number | AppError {
  if (held !== undefined) return heldMarkerAttempt(marker, maxAttempts, what, held);
  if (marker === null) return 1;
  if (marker.leaseUntil > now) {
    return new AppError('AM_ERR_GRAPH_STATE', `${what} is held until ${marker.leaseUntil}`, {
      details: { refusal: 'marker_held', leaseUntil: marker.leaseUntil, attempts: marker.attempts },
    });
  }
  if (marker.attempts >= maxAttempts) {
    return new AppError('AM_ERR_GRAPH_STATE', `${what} was attempted ${marker.attempts} times`, {
      details: { refusal: 'marker_attempts_exhausted', attempts: marker.attempts },
    });
  }
  return marker.attempts + 1;
}

function heldMarkerAttempt(
  marker: MarkerState | null,
  maxAttempts: number,
  what: string,
  held: HeldMarker,
): number | AppError {
  // Taken over (a later attempt), or gone (the graph moved on): the caller no longer holds it.
  if (marker === null || marker.attempts !== held.attempt) {
    return new AppError('AM_ERR_GRAPH_STATE', `${what}: marker ${held.attempt} is no longer held`, {
      details: { refusal: 'marker_lost', attempts: marker?.attempts ?? null },
    });
  }
  if (held.renew) return held.attempt;
  if (held.attempt >= maxAttempts) {
    return new AppError('AM_ERR_GRAPH_STATE', `${what} was attempted ${held.attempt} times`, {
      details: { refusal: 'marker_attempts_exhausted', attempts: held.attempt },
    });
  }
  return held.attempt + 1;
}
