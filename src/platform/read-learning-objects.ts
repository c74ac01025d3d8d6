// Reads behind the public read API (/primeapi/v2) and its CSV reports: learning objects with their live instances.
import type { ProducerContext } from '../context.ts';
import { type Instance, type LearningObject, toInstance, toLearningObject } from './domain.ts';

export interface LearningObjectWithInstances {
  /** Internal creation number: the page cursor. */
  num: number;
  learningObject: LearningObject;
  /** Instances that are not deleted, in creation order. */
  instances: Instance[];
}

export interface LearningObjectQuery {
  /** Only this account's; every account's when absent (the admin token). */
  accountId?: number;
  ids?: readonly string[];
  /** LOs after this internal number (the page cursor). */
  afterNum?: number;
  limit?: number;
  /** Only LOs created or updated at or after this time (the training report's export start). */
  since?: number;
}

/** Learning objects that are not deleted, in creation order, each with its instances. */
export async function readLearningObjects(context: ProducerContext, query: LearningObjectQuery): Promise<LearningObjectWithInstances[]> {
  const db = context.database.db;
  let select = db.selectFrom('learning_objects').selectAll().where('state', '!=', 'deleted').orderBy('num');
  if (query.accountId !== undefined) select = select.where('account_id', '=', query.accountId);
  if (query.ids) select = select.where('id', 'in', query.ids.length > 0 ? [...query.ids] : ['']);
  if (query.afterNum !== undefined) select = select.where('num', '>', query.afterNum);
  if (query.since !== undefined) {
    const since = query.since;
    select = select.where((eb) => eb.or([eb('created_at', '>=', since), eb('updated_at', '>=', since)]));
  }
  if (query.limit !== undefined) select = select.limit(query.limit);
  const rows = await select.execute();
  if (rows.length === 0) return [];
  const instanceRows = await db
    .selectFrom('lo_instances')
    .selectAll()
    .where(
      'lo_id',
      'in',
      rows.map((row) => row.id),
    )
    .where('state', '!=', 'deleted')
    .orderBy('num')
    .execute();
  const byLo = new Map<string, Instance[]>();
  for (const row of instanceRows) {
    const list = byLo.get(row.lo_id) ?? [];
    list.push(toInstance(row));
    byLo.set(row.lo_id, list);
  }
  return rows.map((row) => ({ num: row.num, learningObject: toLearningObject(row), instances: byLo.get(row.id) ?? [] }));
}
