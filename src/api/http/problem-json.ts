import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERRORS, type ErrorCode, isAppError } from '../../errors.ts';

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
    type: `https://agentmanager.dev/errors/${error.code}`,
    title: ERRORS[error.code].message,
    status: error.statusCode,
    detail: error.message,
    code: error.code,
    ...(instance === undefined ? {} : { instance }),
    ...(field === undefined ? {} : { field }),
  };
}

export function sendProblem(reply: FastifyReply, error: AppError, instance?: string): FastifyReply {
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
    return reply.code(415).type('application/problem+json').send({
      type: 'https://agentmanager.dev/errors/AM_ERR_VALIDATION',
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
