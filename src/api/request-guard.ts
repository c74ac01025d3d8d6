// One check of every request's body, query and path before any route sees them: what no store can hold is refused
// here, by field, instead of failing deep in a database (a NUL character in PostgreSQL text, a number past 2^53).
import type { FastifyInstance } from 'fastify';
import { ApiError } from './errors.ts';

/** Field names that would change an object's prototype when copied; JSON allows them, learnhook does not. */
const forbiddenKeys = new Set(['__proto__']);

/** The first problem found in a parsed value, as `where: what`, or undefined. */
export function findUnstorable(value: unknown, where: string): string | undefined {
  if (typeof value === 'string') {
    return value.includes('\u0000') ? `${where} contains a NUL character (\\u0000), which text fields cannot hold` : undefined;
  }
  if (typeof value === 'number') {
    if (Number.isInteger(value) && !Number.isSafeInteger(value))
      return `${where} is ${value}, beyond the largest whole number learnhook takes (${Number.MAX_SAFE_INTEGER})`;
    return undefined;
  }
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const problem = findUnstorable(item, `${where}[${index}]`);
      if (problem) return problem;
    }
    return undefined;
  }
  if (typeof value === 'object' && value !== null) {
    for (const key of Object.keys(value)) {
      const at = `${where}.${key}`;
      if (forbiddenKeys.has(key)) return `${where === 'body' ? 'the body' : where} has a field named ${key}, which is not allowed`;
      if (key.includes('\u0000')) return `${where} has a field name with a NUL character (\\u0000), which is not allowed`;
      const problem = findUnstorable((value as Record<string, unknown>)[key], at);
      if (problem) return problem;
    }
  }
  return undefined;
}

/**
 * Refuses, with 400 and the field's name, a request whose body, query or path holds a NUL character, an integer
 * JavaScript cannot hold exactly, or a `__proto__` field. The JSON parser keeps `__proto__` as a plain field (so the
 * refusal can name it) and this hook runs before any handler could copy it.
 */
export function installRequestGuard(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    const problem =
      findUnstorable(request.params, 'path') ?? findUnstorable(request.query, 'query') ?? findUnstorable(request.body, 'body');
    if (problem) throw new ApiError(400, 'invalid_request', `the request is invalid: ${problem}`, [problem]);
  });
}
