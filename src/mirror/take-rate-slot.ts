// The read-API rate budget shared by every mirror process on one database: a call is made only after taking a slot.
import { sql } from 'kysely';
import type { Database } from '../store/database.ts';
import type { MirrorSchema } from './schema.ts';

export type RateSlot = { granted: true } | { granted: false; waitMs: number };

/**
 * A margin on the window (5 %, at most 1 s), so that network delays never make two calls look closer
 * together at the server than they were when the slots were taken.
 */
export function guardedWindow(windowMs: number): number {
  return windowMs + Math.min(1000, Math.round(windowMs / 20));
}

/**
 * Takes one call slot if fewer than `limit` calls were made in the last window and no 429 asked to wait;
 * otherwise says how long to wait. Serialised across processes: BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL.
 */
export async function takeRateSlot(database: Database<MirrorSchema>, limit: number, windowMs: number, now: number): Promise<RateSlot> {
  const window = guardedWindow(windowMs);
  return database.db.transaction().execute(async (trx) => {
    await database.lockName(trx, 'learnhook_mirror_rate');
    const blocked = await trx.selectFrom('mirror_state').select('value').where('key', '=', 'rate_blocked_until').executeTakeFirst();
    if (blocked && blocked.value > now) return { granted: false, waitMs: blocked.value - now };
    await trx
      .deleteFrom('api_calls')
      .where('called_at', '<=', now - window)
      .execute();
    const recent = await trx.selectFrom('api_calls').select('called_at').orderBy('called_at').execute();
    if (recent.length >= limit) {
      const oldest = recent[recent.length - limit]?.called_at ?? now;
      return { granted: false, waitMs: Math.max(1, oldest + window - now) };
    }
    await trx.insertInto('api_calls').values({ called_at: now }).execute();
    return { granted: true };
  });
}

/** Honours a 429: no process takes a slot before `until`. */
export async function blockRateUntil(database: Database<MirrorSchema>, until: number): Promise<void> {
  const later = database.greatest(sql<number>`mirror_state.value`, until);
  await database.db
    .insertInto('mirror_state')
    .values({ key: 'rate_blocked_until', value: until })
    .onConflict((conflict) => conflict.column('key').doUpdateSet({ value: later }))
    .execute();
}
