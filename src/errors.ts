/**
 * The one registry of error codes. Codes are stable API: clients, tests and the README rely on them;
 * messages may change. Every code maps to an HTTP status (NATS replies carry the same status).
 */
export const ERRORS = {
  AM_ERR_VALIDATION: { status: 400, message: 'The request does not match the schema' },
  AM_ERR_GRAPH_CYCLIC: { status: 400, message: 'The task graph has a dependency cycle' },
  AM_ERR_GRAPH_INVALID: {
    status: 400,
    message: 'The task graph is invalid (duplicate or unknown task ids, or no tasks)',
  },
  AM_ERR_AUTH_MISSING: { status: 401, message: 'A bearer token is required' },
  AM_ERR_AUTH_INVALID: { status: 401, message: 'The token is not valid' },
  AM_ERR_AUTH_REVOKED: { status: 401, message: 'The agent of this token was revoked' },
  AM_ERR_AUTH_FORBIDDEN: { status: 403, message: 'The role of this token may not do that' },
  AM_ERR_CLAIM_FOREIGN: { status: 403, message: 'The claim is held by another agent' },
  AM_ERR_GRAPH_NOT_FOUND: { status: 404, message: 'No graph with that id' },
  AM_ERR_TASK_NOT_FOUND: { status: 404, message: 'No task with that id in that graph' },
  AM_ERR_AGENT_NOT_FOUND: { status: 404, message: 'No agent with that id' },
  AM_ERR_ROUTE_NOT_FOUND: { status: 404, message: 'No such route or operation' },
  AM_ERR_CONFLICT: { status: 409, message: 'A concurrent change won; retry the request' },
  AM_ERR_STALE_CLAIM: { status: 409, message: 'The claim token is not the current claim of the task' },
  AM_ERR_TASK_NOT_READY: { status: 409, message: 'The task is not READY' },
  AM_ERR_TASK_NOT_FAILED: { status: 409, message: 'The graph has no failed task to retry' },
  AM_ERR_GRAPH_CANCELLED: { status: 409, message: 'The graph was cancelled' },
  AM_ERR_GRAPH_FINISHED: { status: 409, message: 'The graph has already finished' },
  AM_ERR_GRAPH_STATE: { status: 409, message: 'The graph is not in a state that allows this' },
  AM_ERR_GRAPH_EXISTS: {
    status: 409,
    message: 'A graph with that id already exists (or the idempotencyKey was used for another submission)',
  },
  AM_ERR_REWORK_UNKNOWN_TASK: { status: 409, message: 'A rework names a task the graph does not have' },
  AM_ERR_AGENT_REVOKED: { status: 409, message: 'That agent is revoked' },
  AM_ERR_AGENT_EXISTS: { status: 409, message: 'An agent with that id already exists' },
  AM_ERR_REQUEST_TIMEOUT: { status: 408, message: 'The request did not arrive in time' },
  AM_ERR_PAYLOAD_TOO_LARGE: { status: 413, message: 'The request or the event it makes is too large' },
  AM_ERR_URI_TOO_LONG: { status: 414, message: 'A path parameter is too long' },
  AM_ERR_HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are too large' },
  AM_ERR_RATE_LIMITED: { status: 429, message: 'Too many requests for this agent' },
  AM_ERR_INTERNAL: { status: 500, message: 'Internal error' },
  AM_ERR_STORE_UNAVAILABLE: { status: 503, message: 'The event store (NATS JetStream) is unavailable' },
  AM_ERR_NOT_READY: {
    status: 503,
    message: 'This server is not ready (catching up with the stream, or cut off from NATS); retry',
  },
  AM_ERR_LLM_INVALID_OUTPUT: { status: 502, message: 'The model did not return valid structured output' },
  AM_ERR_LLM_UNAVAILABLE: { status: 502, message: 'The model endpoint failed or timed out' },
  AM_ERR_LLM_ABORTED: { status: 499, message: 'The model call was aborted' },
  AM_ERR_CONFIG_INVALID: { status: 500, message: 'The configuration is invalid' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** Base class of every error AM raises on purpose: a stable `code`, its HTTP status and an optional cause. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  /** Machine-readable extra facts (e.g. the field that failed validation, the sequence of a conflict). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: ErrorCode,
    detail?: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(
      detail ?? ERRORS[code].message,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'AppError';
    this.code = code;
    this.statusCode = ERRORS[code].status;
    this.details = options?.details;
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}

export function appError(code: ErrorCode, detail?: string, details?: Record<string, unknown>): AppError {
  return new AppError(code, detail, details === undefined ? undefined : { details });
}

/**
 * JetStream refused an append because the subject's last sequence was not the expected one (API error
 * 10071 "wrong last sequence: N"). `actualSeq` is N: the command handler waits for its projection to
 * apply N, decides again, and only after bounded tries reports AM_ERR_CONFLICT.
 */
export class StreamSequenceConflict extends Error {
  readonly expectedSeq: number;
  readonly actualSeq: number;
  readonly subject: string;

  constructor(subject: string, expectedSeq: number, actualSeq: number) {
    super(`wrong last sequence on ${subject}: expected ${expectedSeq}, stream has ${actualSeq}`);
    this.name = 'StreamSequenceConflict';
    this.subject = subject;
    this.expectedSeq = expectedSeq;
    this.actualSeq = actualSeq;
  }
}
