// The domain's own failures, by kind. The domain never speaks HTTP: src/api alone turns a kind into a status.

/**
 * - `invalid`: the request itself is wrong (unknown event names, a bad time), whatever the state.
 * - `not_found`: it names something that does not exist, or that the caller may not see.
 * - `conflict`: the current state does not allow it (a duplicate, an illegal transition).
 * - `rule`: a rule of the guide forbids it in any state (an impossible request).
 */
export type DomainErrorKind = 'invalid' | 'not_found' | 'conflict' | 'rule';

export class DomainError extends Error {
  override name = 'DomainError';
  constructor(
    readonly kind: DomainErrorKind,
    /** A stable, machine-readable code for clients, e.g. `account_exists`. */
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export const invalidInput = (message: string, details?: unknown, code = 'bad_request') =>
  new DomainError('invalid', code, message, details);
export const notFound = (what: string) => new DomainError('not_found', 'not_found', `${what} was not found`);
export const conflict = (message: string, code = 'conflict') => new DomainError('conflict', code, message);
export const ruleViolation = (message: string, code = 'invalid') => new DomainError('rule', code, message);
