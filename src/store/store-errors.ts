import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
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

/**
 * JetStream did not answer for the account: "jetstream is not enabled" (no responders on its API) or
 * "JetStream not enabled for account" (10039). On a server that has JetStream this passes: nats-server
 * 2.9 answers so for a moment during a config reload, and a cluster while it elects a meta leader.
 */
export function isJetStreamPaused(error: unknown): boolean {
  return (
    // By name: @nats-io/jetstream does not export the class from its public entry.
    (error instanceof Error && error.name === 'JetStreamNotEnabled') ||
    (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.JetStreamNotEnabledForAccount)
  );
}
