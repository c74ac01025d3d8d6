// The attempts log, written in multi-row inserts: a failure is written at once, acknowledged attempts a few at a time.
import type { Insertable } from 'kysely';
import type { ProducerContext } from '../context.ts';
import type { DeliveryAttemptsTable } from '../store/schema.ts';

export type AttemptRow = Insertable<DeliveryAttemptsTable>;

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
      const existing = new Set(
        (
          await this.context.database.db
            .selectFrom('webhooks')
            .select('id')
            .where('id', 'in', [...new Set(rows.map((row) => row.webhook_id))])
            .execute()
        ).map((row) => row.id),
      );
      // A webhook deleted meanwhile takes its log with it.
      const kept = rows.filter((row) => existing.has(row.webhook_id));
      for (let start = 0; start < kept.length; start += 200) {
        await this.context.database.db
          .insertInto('delivery_attempts')
          .values(kept.slice(start, start + 200))
          .execute();
      }
    });
    // A failed write loses those log lines only; the next flushes must still run.
    this.#flushing = this.#flushing.catch((error: unknown) =>
      this.context.logger.error({ err: error }, 'could not write delivery attempts to the log'),
    );
    return this.#flushing;
  }
}
