// The HTTP edge's errors: statuses for the domain's error kinds, HTTP-only failures, and the handler that turns
// every failure into `{ error: { code, message } }`.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, type DomainErrorKind } from '../errors.ts';
import { isTransientDatabaseError } from '../store/transient-errors.ts';

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export const unauthorized = (message = 'missing or unknown bearer token') => new ApiError(401, 'unauthorized', message);
export const forbidden = (message: string) => new ApiError(403, 'forbidden', message);

const statusOfKind: Record<DomainErrorKind, number> = { invalid: 400, not_found: 404, conflict: 409, rule: 422 };

/** The one place where a failure of the domain becomes an HTTP status. */
export function toApiError(error: unknown): ApiError | undefined {
  if (error instanceof ApiError) return error;
  if (error instanceof DomainError) return new ApiError(statusOfKind[error.kind], error.code, error.message, error.details);
  return undefined;
}

/** Fastify's own error codes, translated into messages an operator understands. */
function fromFastify(error: FastifyError): ApiError | undefined {
  if (error.validation) {
    const problems = error.validation.map((issue) => {
      const at = issue.instancePath ? issue.instancePath.slice(1).replaceAll('/', '.') : (error.validationContext ?? 'body');
      if (issue.keyword === 'additionalProperties')
        return `${at}: unknown field "${(issue.params as { additionalProperty?: string }).additionalProperty}"`;
      return `${at}: ${issue.message ?? 'is invalid'}`;
    });
    return new ApiError(400, 'invalid_request', `the request is invalid: ${problems.join('; ')}`, problems);
  }
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError(400, 'malformed_json', `the body is not valid JSON: ${error.message}`);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'body_too_large', 'the body is larger than this server accepts');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new ApiError(400, 'invalid_path', 'a path segment is longer than 100 characters: no id is that long');
    case 'FST_ERR_BAD_URL':
      return new ApiError(400, 'invalid_path', 'the path is not a valid URL path (check its percent-encoding)');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'unsupported_media_type', 'send the body as application/json');
  }
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
    return new ApiError(error.statusCode, 'bad_request', error.message);
  }
  return undefined;
}

/**
 * Fastify's router refuses some requests before any route or error handler runs (a path segment over 100
 * characters, a malformed percent-encoding); pass this as the `frameworkErrors` option so they answer in the same shape.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const apiError = fromFastify(error) ?? new ApiError(400, 'bad_request', 'the request is malformed');
  reply.status(apiError.status);
  // The public read API answers JSON:API errors, as its clients expect (src/api/public-api.ts).
  if (request.url.startsWith('/primeapi/'))
    reply.send({ errors: [{ status: String(apiError.status), title: apiError.code, detail: apiError.message }] });
  else reply.send({ error: { code: apiError.code, message: apiError.message } });
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | ApiError | DomainError, request, reply) => {
    const apiError = toApiError(error) ?? fromFastify(error as FastifyError);
    if (!apiError && isTransientDatabaseError(error)) {
      // The database is restarting or busy: nothing was stored, and the same request can succeed in a moment.
      request.log.warn({ err: error }, 'the database is busy or unreachable: answered 503, the client should try again');
      reply.header('retry-after', '1');
      return reply.status(503).send({
        error: { code: 'database_unavailable', message: 'the database is busy or unreachable; try the request again shortly' },
      });
    }
    if (!apiError) {
      request.log.error({ err: error }, 'request failed');
      return reply.status(500).send({ error: { code: 'internal', message: 'the server failed to handle the request; see its log' } });
    }
    const body: { code: string; message: string; details?: unknown } = { code: apiError.code, message: apiError.message };
    if (apiError.details !== undefined) body.details = apiError.details;
    return reply.status(apiError.status).send({ error: body });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send({ error: { code: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` } });
  });
}
