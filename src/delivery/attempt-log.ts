// The attempts log: the attempts of a webhook are written with its next row write, in one multi-row insert per group.
import type { Insertable } from 'kysely';
import type { ProducerContext } from '../context.ts';
import type { GroupFrame } from '../store/group-commit.ts';
import { rowInsert } from '../store/row-insert.ts';
import type { DeliveryAttemptsTable, ProducerSchema } from '../store/schema.ts';
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

/** Every column an attempt row sets (the id is the store's). */
const attemptColumns = [
  'account_id',
  'webhook_id',
  'batch_id',
  'kind',
  'first_seq',
  'last_seq',
  'delivery_first',
  'delivery_last',
  'event_count',
  'attempt',
  'started_at',
  'duration_ms',
  'status_code',
  'outcome',
  'cause',
  'error',
  'response_body',
  'request_headers',
  'request_body',
  'request_seqs',
  'request_bytes',
] as const satisfies readonly (keyof AttemptRow)[];

/** Writes attempt rows, in the caller's transaction or alone. */
export const insertAttempts = rowInsert<AttemptRow>('delivery_attempts', attemptColumns);

/** A delivery group's attempt rows, written once for the whole group just before it commits (`attemptsFrame`). */
export interface StagedAttempts {
  rows: AttemptRow[];
}

/**
 * The frame of the dispatcher's group commit: the webhook writes of a group stage the attempt rows that go with them,
 * and the group stores them all in one multi-row insert, in the same transaction as the webhook rows.
 */
export const attemptsFrame: GroupFrame<ProducerSchema, StagedAttempts> = {
  open: async () => ({ rows: [] }),
  close: async (trx, staged) => insertAttempts(trx, staged.rows),
};

/**
 * The attempts of each webhook not yet in the log. A delivery loop's next write of its webhook row takes them along
 * (`take`), in the same transaction, so the log holds an acknowledged attempt once the cursor shows it; a loop writes
 * its row at least every few batches (`shouldRecord`), which bounds what waits here. What no row write takes (a
 * failure, a loop that ends) is written with `flush`.
 */
export class AttemptLog {
  readonly #waiting = new Map<string, AttemptRow[]>();

  constructor(private readonly context: ProducerContext) {}

  add(row: AttemptRow): void {
    const rows = this.#waiting.get(row.webhook_id);
    if (rows) rows.push(row);
    else this.#waiting.set(row.webhook_id, [row]);
  }

  /** The webhook's waiting rows, handed to a write that stores them; `giveBack` them should it not. */
  take(webhookId: string): AttemptRow[] {
    const rows = this.#waiting.get(webhookId) ?? [];
    this.#waiting.delete(webhookId);
    return rows;
  }

  /** Rows a write did not store: they wait again, before any added since. */
  giveBack(webhookId: string, rows: readonly AttemptRow[]): void {
    if (rows.length === 0) return;
    this.#waiting.set(webhookId, [...rows, ...(this.#waiting.get(webhookId) ?? [])]);
  }

  /** Writes the webhook's waiting rows on their own. A failed write loses those log lines only, and says so. */
  async flush(webhookId: string): Promise<void> {
    const rows = this.take(webhookId);
    if (rows.length === 0) return;
    try {
      await this.#insert(rows);
    } catch (error) {
      this.context.logger.error(
        { err: error, webhookId },
        `could not write ${rows.length} delivery attempts of webhook ${webhookId} to the log`,
      );
    }
  }

  /**
   * Inserts the rows, unless their webhook is gone (a webhook deleted meanwhile takes its log with it). Should it be
   * deleted between the check and the insert, the foreign key fails the statement, and it is tried again.
   */
  async #insert(rows: readonly AttemptRow[]): Promise<void> {
    const { db } = this.context.database;
    const webhookId = rows[0]?.webhook_id;
    if (webhookId === undefined) return;
    for (let tries = 1; ; tries++) {
      const exists = await db.selectFrom('webhooks').select('id').where('id', '=', webhookId).executeTakeFirst();
      if (!exists) return;
      try {
        await insertAttempts(db, rows);
        return;
      } catch (error) {
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
