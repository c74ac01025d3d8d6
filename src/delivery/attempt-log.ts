// The attempts log, written in multi-row inserts: a failure is written at once, acknowledged attempts a few at a time.
import type { Insertable } from 'kysely';
import type { ProducerContext } from '../context.ts';
import type { DeliveryAttemptsTable } from '../store/schema.ts';
import { type DeliveryRequest, type DeliveryResult, sentHeaders } from './send-delivery.ts';

export type AttemptRow = Insertable<DeliveryAttemptsTable>;

/** The request bodies the attempts log keeps whole; a larger one is cut here (`request_bytes` keeps its size). */
export const requestBodyLimit = 64 * 1024;

/**
 * The exchange of an attempt as the log keeps it: the headers sent (basic-auth credentials masked: the log is
 * readable by anyone who may read the webhook, and its password is never shown back), the body, the answer's head.
 * A body made of logged events (`loggedSeqs`, the account sequences it carried) is kept as those sequences and made
 * again from the log when read (`list-deliveries.ts`): a batch of 100 events is ~50 KiB the log already holds.
 */
export function exchangeColumns(request: DeliveryRequest, result: Pick<DeliveryResult, 'responseBody'>, loggedSeqs?: readonly number[]) {
  const headers = sentHeaders(request);
  if (headers.authorization) headers.authorization = 'Basic ••••••';
  return {
    request_headers: JSON.stringify(headers),
    request_body: loggedSeqs ? null : bodyStart(request.body),
    request_seqs: loggedSeqs ? JSON.stringify(loggedSeqs) : null,
    request_bytes: request.body.length,
    response_body: result.responseBody,
  };
}

/** The body as the log shows it: whole, or its first `requestBodyLimit` bytes. */
export function bodyStart(body: Buffer): string {
  return body.subarray(0, requestBodyLimit).toString('utf8');
}

/** Buffers attempt rows so a fast webhook does not pay one insert per batch; a crash loses at most the buffered log lines. */
export class AttemptLog {
  #rows: AttemptRow[] = [];
  #flushing: Promise<void> = Promise.resolve();
  constructor(
    private readonly context: ProducerContext,
    private readonly bufferSize = 50,
  ) {}

  /**
   * Buffers a row; a full buffer is written in the background. The caller waits only when writes fall far behind
   * (ten buffers waiting), so a slow log holds deliveries back instead of growing without bound.
   */
  add(row: AttemptRow): Promise<void> {
    this.#rows.push(row);
    if (this.#rows.length >= this.bufferSize * 10) return this.flush();
    if (this.#rows.length % this.bufferSize === 0) void this.flush();
    return Promise.resolve();
  }

  /** Writes everything buffered (in order, one flush at a time). */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(async () => {
      if (this.#rows.length === 0) return;
      const rows = this.#rows;
      this.#rows = [];
      for (let start = 0; start < rows.length; start += 200) await this.#insert(rows.slice(start, start + 200));
    });
    // A failed write loses those log lines only; the next flushes must still run.
    this.#flushing = this.#flushing.catch((error: unknown) =>
      this.context.logger.error({ err: error }, 'could not write delivery attempts to the log'),
    );
    return this.#flushing;
  }

  /**
   * Inserts the rows whose webhook still exists (a webhook deleted meanwhile takes its log with it). A webhook deleted
   * between the check and the insert fails the foreign key for the whole statement, so the check is made again and
   * the insert retried without it: only that webhook's rows are dropped.
   */
  async #insert(rows: readonly AttemptRow[]): Promise<void> {
    const { db } = this.context.database;
    let pending = rows;
    for (let tries = 1; ; tries++) {
      const ids = [...new Set(pending.map((row) => row.webhook_id))];
      const existing = new Set((await db.selectFrom('webhooks').select('id').where('id', 'in', ids).execute()).map((row) => row.id));
      pending = pending.filter((row) => existing.has(row.webhook_id));
      if (pending.length === 0) return;
      try {
        await db.insertInto('delivery_attempts').values(pending).execute();
        return;
      } catch (error) {
        // Each retry follows a deletion that happened since the last check; a few are plenty.
        if (!isForeignKeyViolation(error) || tries >= 5) throw error;
      }
    }
  }
}

/** Whether an insert failed because a referenced row is gone (PostgreSQL 23503, SQLite's foreign key constraint). */
function isForeignKeyViolation(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === '23503' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}
