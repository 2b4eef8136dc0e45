import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERRORS, type ErrorCode, isAppError } from '../../errors.ts';

/**
 * The `type` of every problem is this prefix and the code: a URN, since the project owns no domain to
 * host a page per code (the codes: src/errors.ts, the README's table).
 */
export const PROBLEM_TYPE_PREFIX = 'urn:agentmanager:error:';

/** RFC 9457 problem details, with AM's stable `code`. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  instance?: string;
  field?: string;
}

export function problemOf(error: AppError, instance?: string): Problem {
  const field = typeof error.details?.field === 'string' ? error.details.field : undefined;
  return {
    type: `${PROBLEM_TYPE_PREFIX}${error.code}`,
    title: ERRORS[error.code].message,
    status: error.statusCode,
    detail: error.message,
    code: error.code,
    ...(instance === undefined ? {} : { instance }),
    ...(field === undefined ? {} : { field }),
  };
}

export function sendProblem(reply: FastifyReply, error: AppError, instance?: string): FastifyReply {
  const retryAfterSec = error.details?.retryAfterSec;
  if (typeof retryAfterSec === 'number') reply.header('retry-after', String(Math.ceil(retryAfterSec)));
  return reply.code(error.statusCode).type('application/problem+json').send(problemOf(error, instance));
}

/** Maps anything thrown in a route to problem+json; unexpected errors become a 500 without internals. */
export function errorHandler(
  error: FastifyError | Error,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  if (isAppError(error)) {
    if (error.statusCode >= 500) request.log.error({ err: error }, error.message);
    return sendProblem(reply, error, request.url);
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return sendProblem(
      reply,
      new AppError('AM_ERR_PAYLOAD_TOO_LARGE', 'the request body is too large'),
      request.url,
    );
  }
  if (fastifyError.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return reply
      .code(415)
      .type('application/problem+json')
      .send({
        type: `${PROBLEM_TYPE_PREFIX}AM_ERR_VALIDATION`,
        title: 'Unsupported media type',
        status: 415,
        detail: 'send application/json',
        code: 'AM_ERR_VALIDATION',
      });
  }
  if (
    fastifyError.statusCode === 400 ||
    fastifyError.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ||
    error instanceof SyntaxError
  ) {
    return sendProblem(
      reply,
      new AppError('AM_ERR_VALIDATION', `malformed request: ${error.message}`),
      request.url,
    );
  }
  request.log.error({ err: error }, 'unexpected error');
  return sendProblem(reply, new AppError('AM_ERR_INTERNAL', 'internal error'), request.url);
}

/**
 * Errors Fastify raises before a route runs (`frameworkErrors`): a URL that is not valid percent-encoding
 * and a path parameter over the router's length limit. Problem+json like every other error, and without
 * the URL (Fastify's own bodies echo it).
 */
export function frameworkErrorHandler(
  error: FastifyError,
  _request: FastifyRequest,
  reply: FastifyReply,
): void {
  const problem =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? new AppError('AM_ERR_URI_TOO_LONG', 'a path parameter is longer than the server accepts')
      : error.code === 'FST_ERR_BAD_URL'
        ? new AppError('AM_ERR_VALIDATION', 'the URL is not valid (malformed percent-encoding)')
        : new AppError('AM_ERR_VALIDATION', 'the request could not be routed');
  void sendProblem(reply, problem);
}

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (a malformed request line or header,
 * headers over the size limit, a request that timed out): answered on the socket as problem+json, then
 * the connection is closed, as Node itself does.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const problem =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new AppError('AM_ERR_REQUEST_TIMEOUT', 'the request did not arrive in time')
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? new AppError('AM_ERR_HEADERS_TOO_LARGE', 'the request line and headers exceed the size limit')
        : new AppError('AM_ERR_VALIDATION', 'malformed HTTP request');
  if (socket.writable) {
    const body = JSON.stringify(problemOf(problem));
    socket.write(
      `HTTP/1.1 ${problem.statusCode} ${STATUS_CODES[problem.statusCode] ?? 'Error'}\r\n` +
        `Content-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
