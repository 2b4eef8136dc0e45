/**
 * The reply of every NATS command (DESIGN.md "Interfaces"): `field` names the bad input on validation
 * errors, `retryAfterSec` comes with AM_ERR_RATE_LIMITED. Shared by the service and the worker client.
 */
export type CommandReply<T = unknown> =
  | { ok: true; data: T }
  | {
      ok: false;
      error: { status: number; code: string; detail: string; field?: string; retryAfterSec?: number };
    };
