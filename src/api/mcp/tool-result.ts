import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { AppError, isAppError } from '../../errors.ts';

/** The `_meta` key of an error result's machine-readable part. */
export const AM_ERROR_META_KEY = 'agentmanager.dev/error';

/** An AM error as MCP tells it (the fields of problem+json): under `_meta`, or as a JSON-RPC error's data. */
export interface AmErrorData {
  code: string;
  status: number;
  detail: string;
  field?: string;
  retryAfterSec?: number;
}

/** A successful call: the structured output, and the same JSON as text for clients that read only text. */
export function toolSuccess(output: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(output) }], structuredContent: output };
}

/**
 * A refused or failed call as an `isError` result the model can read (`AM_ERR_STALE_CLAIM: …`), never a
 * protocol error. The code, status and detail go in `_meta`, not `structuredContent`: the SDK's client
 * (1.32) checks any `structuredContent` against the tool's output schema, even on an error result, and
 * would turn the refusal into an exception.
 */
export function toolError(error: unknown, log: Logger, where: string): CallToolResult {
  const data = amErrorData(error, log, where);
  return {
    content: [{ type: 'text', text: `${data.code}: ${data.detail}` }],
    isError: true,
    _meta: { [AM_ERROR_META_KEY]: data },
  };
}

/**
 * The code, status and detail of an error. Anything that is not an AppError is logged and told as
 * AM_ERR_INTERNAL without its message, as the HTTP error handler does.
 */
export function amErrorData(error: unknown, log: Logger, where: string): AmErrorData {
  if (!isAppError(error)) log.error({ err: error, where }, 'unexpected error in an MCP call');
  else if (error.statusCode >= 500) log.error({ err: error, where }, error.message);
  const appError = isAppError(error) ? error : new AppError('AM_ERR_INTERNAL', 'internal error');
  const { field, retryAfterSec } = appError.details ?? {};
  return {
    code: appError.code,
    status: appError.statusCode,
    detail: appError.message,
    ...(typeof field === 'string' ? { field } : {}),
    ...(typeof retryAfterSec === 'number' ? { retryAfterSec } : {}),
  };
}
