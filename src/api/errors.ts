// One error class with an HTTP status, and the handler that turns every failure into `{ error: { code, message } }`.
import type { FastifyError, FastifyInstance } from 'fastify';

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

export const badRequest = (message: string, details?: unknown) => new ApiError(400, 'bad_request', message, details);
export const unauthorized = (message = 'missing or unknown bearer token') => new ApiError(401, 'unauthorized', message);
export const forbidden = (message: string) => new ApiError(403, 'forbidden', message);
export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} was not found`);
export const conflict = (message: string, code = 'conflict') => new ApiError(409, code, message);
export const unprocessable = (message: string, details?: unknown) => new ApiError(422, 'invalid', message, details);

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
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'unsupported_media_type', 'send the body as application/json');
  }
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
    return new ApiError(error.statusCode, 'bad_request', error.message);
  }
  return undefined;
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | ApiError, request, reply) => {
    const apiError = error instanceof ApiError ? error : fromFastify(error);
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
