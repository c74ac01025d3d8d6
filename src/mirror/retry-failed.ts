// Puts set-aside inbox rows back in line: the projector applies them again (the reducer converges in any order).
import type { Database } from '../store/database.ts';
import type { MirrorSchema } from './schema.ts';

/** Clears the set-aside mark and the attempt count of every set-aside row, or of the given ids; returns how many. */
export async function retryFailed(database: Database<MirrorSchema>, ids?: readonly number[]): Promise<number> {
  let query = database.db
    .updateTable('inbox')
    .set({ failed_at: null, attempts: 0 })
    .where('failed_at', 'is not', null)
    .where('processed_at', 'is', null);
  if (ids && ids.length > 0) query = query.where('id', 'in', [...ids]);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows);
}
