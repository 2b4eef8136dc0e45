import { JetStreamApiError } from '@nats-io/jetstream';
import { AppError, isAppError } from '../errors.ts';

/**
 * Wraps a NATS failure (timeout, no responders, closed or draining connection, a JetStream API refusal)
 * as AM_ERR_STORE_UNAVAILABLE with the original as `cause`; the caller cannot fix any of them by changing
 * the request. AppErrors pass through unchanged.
 */
export function toStoreError(error: unknown, context: string): AppError {
  if (isAppError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  const details: Record<string, unknown> = {
    reason: error instanceof Error ? error.name : typeof error,
  };
  if (error instanceof JetStreamApiError) details.jsApiCode = error.code;
  return new AppError('AM_ERR_STORE_UNAVAILABLE', `${context}: ${message}`, { cause: error, details });
}
