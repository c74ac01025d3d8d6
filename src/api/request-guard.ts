// One check of every request's body, query and path before any route sees them: what no store can hold is refused
// here, by field, instead of failing deep in a database (a NUL character in PostgreSQL text, a number past 2^53).
import type { FastifyInstance } from 'fastify';
import { ApiError } from './errors.ts';

/** Field names that would change an object's prototype when copied; JSON allows them, learnhook does not. */
const forbiddenKeys = new Set(['__proto__']);

/** What is wrong with a value, and the keys and indexes leading to it (innermost last), built only when something is. */
interface Unstorable {
  path: (string | number)[];
  problem: (where: string) => string;
}

const hasNul = (where: string) => `${where} contains a NUL character (\\u0000), which text fields cannot hold`;

function unstorable(value: unknown): Unstorable | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? { path: [], problem: hasNul } : undefined;
  if (typeof value === 'number') {
    if (Number.isInteger(value) && !Number.isSafeInteger(value))
      return {
        path: [],
        problem: (where) => `${where} is ${value}, beyond the largest whole number learnhook takes (${Number.MAX_SAFE_INTEGER})`,
      };
    return undefined;
  }
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      const found = unstorable(value[index]);
      if (found) {
        found.path.unshift(index);
        return found;
      }
    }
    return undefined;
  }
  if (typeof value === 'object' && value !== null) {
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue;
      if (forbiddenKeys.has(key))
        return { path: [], problem: (where) => `${where === 'body' ? 'the body' : where} has a field named ${key}, which is not allowed` };
      if (key.includes('\u0000'))
        return { path: [], problem: (where) => `${where} has a field name with a NUL character (\\u0000), which is not allowed` };
      const found = unstorable((value as Record<string, unknown>)[key]);
      if (found) {
        found.path.unshift(key);
        return found;
      }
    }
  }
  return undefined;
}

/** The first problem found in a parsed value, as `where: what`, or undefined. */
export function findUnstorable(value: unknown, where: string): string | undefined {
  const found = unstorable(value);
  if (!found) return undefined;
  const at = found.path.reduce<string>((path, step) => (typeof step === 'number' ? `${path}[${step}]` : `${path}.${step}`), where);
  return found.problem(at);
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
