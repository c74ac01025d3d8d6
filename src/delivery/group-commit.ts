// Group commit of delivery state: the writes of many webhook loops share one transaction, so a busy producer pays one commit (one WAL flush) per group, not per batch.
import type { Kysely, Transaction } from 'kysely';
import type { ProducerSchema } from '../store/schema.ts';

export type GroupWrite<T> = (trx: Transaction<ProducerSchema>) => Promise<T>;

interface Pending {
  write: GroupWrite<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * A write queue: writes that arrive while `groupsInFlight` groups are committing form the next group. A caller's
 * promise settles only after its group has committed, so "persisted before it is sent" still holds. Each webhook
 * loop waits for its write before the next, so two groups never hold writes to the same row.
 */
export class GroupCommit {
  #queue: Pending[] = [];
  #inFlight = 0;
  #scheduled = false;

  constructor(
    private readonly db: Kysely<ProducerSchema>,
    /** One on SQLite (one connection); two on PostgreSQL, so a write arriving during a commit need not wait for it (measured: more did not help). */
    private readonly groupsInFlight: number,
  ) {}

  /** Runs `write` in the next group's transaction and resolves with its result once that transaction has committed. */
  run<T>(write: GroupWrite<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ write, resolve: resolve as (value: unknown) => void, reject });
      if (this.#scheduled || this.#inFlight >= this.groupsInFlight) return;
      this.#scheduled = true;
      // Answers that arrive in the same turn of the event loop join one group rather than each opening its own.
      setImmediate(() => {
        this.#scheduled = false;
        this.#pump();
      });
    });
  }

  #pump(): void {
    while (this.#queue.length > 0 && this.#inFlight < this.groupsInFlight) {
      const group = this.#queue;
      this.#queue = [];
      this.#inFlight++;
      void this.#commit(group).finally(() => {
        this.#inFlight--;
        this.#pump();
      });
    }
  }

  async #commit(group: Pending[]): Promise<void> {
    let results: unknown[];
    try {
      results = await this.db.transaction().execute(async (trx) => {
        const done: unknown[] = [];
        for (const pending of group) done.push(await pending.write(trx));
        return done;
      });
    } catch (error) {
      const [only] = group;
      if (group.length === 1 && only) return only.reject(error);
      // Nothing of the group was committed: each write is tried alone, so one failing write fails only its own caller.
      for (const pending of group) await this.#commit([pending]);
      return;
    }
    for (const [index, pending] of group.entries()) pending.resolve(results[index]);
  }
}
