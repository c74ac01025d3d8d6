// Tells errors that pass by themselves (a lock conflict, a database restarting, a dropped connection) from those that do not.

/** PostgreSQL SQLSTATEs worth trying again: the same statement can succeed a moment later. */
const transientSqlStates = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
  '57P01', // admin_shutdown: the server is stopping or restarting
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: the server is starting
  '53300', // too_many_connections
]);

/** Socket errors of a connection that failed or broke. */
const transientSocketCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ECONNABORTED',
]);

/** What `pg` says (without a code) when the server went away under a client or a pool could not connect in time. */
const transientPgMessages = [
  /^Connection terminated/,
  /^Client has encountered a connection error and is not queryable/,
  /^timeout exceeded when trying to connect/,
];

/**
 * True for errors that say nothing about the data: deadlocks, serialization failures, SQLITE_BUSY and SQLITE_LOCKED
 * (another writer holds the file), and lost or refused connections (class 08, admin shutdown, ECONNREFUSED, …).
 * Work that failed on one is tried again later, and not counted as a failure of the work itself.
 */
export function isTransientDatabaseError(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 3) return false;
  const { code, message, errors, cause } = error as { code?: unknown; message?: unknown; errors?: unknown; cause?: unknown };
  if (typeof code === 'string') {
    if (transientSqlStates.has(code) || code.startsWith('08')) return true;
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return true;
    if (transientSocketCodes.has(code)) return true;
  }
  if (typeof message === 'string' && transientPgMessages.some((pattern) => pattern.test(message))) return true;
  // Node reports a refused connection to a host with several addresses as an AggregateError of each attempt.
  if (Array.isArray(errors) && errors.length > 0 && errors.every((inner) => isTransientDatabaseError(inner, depth + 1))) return true;
  return cause !== undefined && isTransientDatabaseError(cause, depth + 1);
}
