// Counts a failed projection of an inbox row, and sets the row aside once it has failed `--projection-attempts` times.
import type { MirrorContext } from './mirror-context.ts';

export interface ProjectionFailure {
  inboxId: number;
  accountId: number;
  attempts: number;
  error: string;
  /** True when this failure was the last allowed: the row is skipped from now on, until retried. */
  setAside: boolean;
}

/** Whether a row that has failed `attempts` times is set aside; pure, so the rule is tested without a database. */
export function isSetAside(attempts: number, maxAttempts: number): boolean {
  return attempts >= Math.max(1, maxAttempts);
}

/** The error as one line for the operator, bounded so a huge message cannot bloat the inbox. */
function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length > 2000 ? `${text.slice(0, 2000)}…` : text;
}

/**
 * Runs after the row's own transaction rolled back. The count lives in the row, so it survives restarts and is
 * shared by every mirror process on one database; a set-aside row is recorded as an `unprocessable` anomaly.
 */
export async function recordProjectionFailure(
  context: MirrorContext,
  row: { id: number; account_id: number },
  error: unknown,
): Promise<ProjectionFailure> {
  const now = context.now();
  const message = describeError(error);
  const maxAttempts = context.settings.projectionAttempts;
  const failure = await context.database.db.transaction().execute(async (trx) => {
    const counted = await trx
      .updateTable('inbox')
      .set((eb) => ({ attempts: eb('attempts', '+', 1), last_error: message }))
      .where('id', '=', row.id)
      .returning('attempts')
      .executeTakeFirstOrThrow();
    const setAside = isSetAside(counted.attempts, maxAttempts);
    if (setAside) {
      await trx.updateTable('inbox').set({ failed_at: now }).where('id', '=', row.id).execute();
      await trx
        .insertInto('anomalies')
        .values({
          account_id: row.account_id,
          kind: 'unprocessable',
          event_id: null,
          event_name: null,
          subject: String(row.id),
          detail: `inbox row ${row.id} failed ${counted.attempts} times and is set aside (learnhook mirror retry-failed puts it back): ${message}`,
          inbox_id: row.id,
          recorded_at: now,
        })
        .execute();
    }
    return { inboxId: row.id, accountId: row.account_id, attempts: counted.attempts, error: message, setAside };
  });
  if (failure.setAside) {
    context.logger.error(
      { inboxId: row.id, attempts: failure.attempts },
      `inbox row ${row.id} is set aside after ${failure.attempts} failed attempts: ${message}`,
    );
  } else {
    context.logger.warn(
      { inboxId: row.id, attempts: failure.attempts },
      `inbox row ${row.id} failed (attempt ${failure.attempts} of ${maxAttempts}); it is tried again: ${message}`,
    );
  }
  return failure;
}
