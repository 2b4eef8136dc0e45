import { JetStreamApiError } from '@nats-io/jetstream';
import { AppError, isAppError } from '../errors.ts';

/** JetStream answered a publish with an error (`err_code` is JetStream's, e.g. 10071 wrong last sequence). */
export class JetStreamPublishError extends Error {
  override readonly name = 'JetStreamPublishError';
  constructor(
    /** The HTTP-like status JetStream gave (400, 503, …). */
    readonly status: number,
    readonly errCode: number,
    description: string,
  ) {
    super(description);
  }
}

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
  if (error instanceof JetStreamPublishError) details.jsApiCode = error.errCode;
  return new AppError('AM_ERR_STORE_UNAVAILABLE', `${context}: ${message}`, { cause: error, details });
}
