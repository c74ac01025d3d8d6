// Puts set-aside inbox rows and rows with held events back in line: the projector applies them again (the reducer
// converges in any order, and events a row already applied are skipped).
import type { Database } from '../store/database.ts';
import type { MirrorSchema } from './schema.ts';

export interface RetryCounts {
  /** Set-aside rows put back in line. */
  rows: number;
  /** Held events whose rows are read again: those this version can read are applied, the others stay held. */
  heldEvents: number;
}

/** Puts back every set-aside row and every row holding events, or only the given inbox row ids. */
export async function retryFailed(database: Database<MirrorSchema>, ids?: readonly number[]): Promise<RetryCounts> {
  const only = ids && ids.length > 0 ? [...ids] : undefined;
  return database.db.transaction().execute(async (trx) => {
    let setAside = trx
      .updateTable('inbox')
      .set({ failed_at: null, attempts: 0 })
      .where('failed_at', 'is not', null)
      .where('processed_at', 'is', null);
    if (only) setAside = setAside.where('id', 'in', only);
    const rows = Number((await setAside.executeTakeFirst()).numUpdatedRows);
    let heldQuery = trx.selectFrom('held_events').select('inbox_id').where('resolved_at', 'is', null);
    if (only) heldQuery = heldQuery.where('inbox_id', 'in', only);
    const held = (await heldQuery.execute()).map((row) => row.inbox_id);
    const holding = [...new Set(held)];
    for (let start = 0; start < holding.length; start += 500) {
      await trx
        .updateTable('inbox')
        .set({ processed_at: null, failed_at: null, attempts: 0 })
        .where('id', 'in', holding.slice(start, start + 500))
        .execute();
    }
    return { rows, heldEvents: held.length };
  });
}
