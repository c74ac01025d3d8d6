// Learning-object actions (create, change, publish, retire, delete) and reads; each action is one transaction through runAction.
import { randomUUID } from 'node:crypto';
import type { ProducerContext } from '../context.ts';
import { notFound } from '../errors.ts';
import { type Instance, type LearningObject, type LoKind, toInstance, toLearningObject, type Via } from './domain.ts';
import * as rules from './rules/learning-objects.ts';
import { invalid } from './rules/outcome.ts';
import { runAction, type Trx } from './run-action.ts';

export interface NewLearningObject {
  loType: LoKind;
  name: string;
  description?: string;
  duration?: number | null;
  children?: string[];
  via?: Via;
}

export interface LearningObjectUpdate {
  name?: string;
  description?: string;
  duration?: number | null;
  children?: string[];
  via?: Via;
}

export async function loadLearningObject(trx: Trx, accountId: number, loId: string): Promise<LearningObject> {
  const row = await trx
    .selectFrom('learning_objects')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', '=', loId)
    .executeTakeFirst();
  if (!row) throw notFound(`learning object ${loId}`);
  return toLearningObject(row);
}

export async function loadInstances(trx: Trx, loId: string): Promise<Instance[]> {
  const rows = await trx.selectFrom('lo_instances').selectAll().where('lo_id', '=', loId).orderBy('num').execute();
  return rows.map(toInstance);
}

/** Children must be courses of the same account that are not deleted. */
async function checkChildCourses(trx: Trx, accountId: number, loType: LoKind, children: readonly string[]): Promise<void> {
  rules.checkChildren(loType, children);
  if (children.length === 0) return;
  const found = await trx
    .selectFrom('learning_objects')
    .select('id')
    .where('account_id', '=', accountId)
    .where('id', 'in', [...children])
    .where('state', '!=', 'deleted')
    .execute();
  const known = new Set(found.map((row) => row.id));
  const missing = children.filter((child) => !known.has(child));
  if (missing.length > 0) invalid(`child course ${missing.join(', ')} does not exist in this account`);
}

async function writeLearningObject(
  trx: Trx,
  lo: LearningObject,
  changes: rules.LearningObjectChanges,
  now: number,
): Promise<LearningObject> {
  const row = await trx
    .updateTable('learning_objects')
    .set({
      name: lo.name,
      description: lo.description,
      duration: lo.duration,
      children: JSON.stringify(lo.children),
      state: changes.learningObject.state,
      published_at: changes.learningObject.publishedAt ?? lo.publishedAt,
      updated_at: now,
      deleted_at: changes.learningObject.state === 'deleted' ? now : null,
    })
    .where('id', '=', lo.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  for (const instance of changes.instances) {
    await trx
      .updateTable('lo_instances')
      .set({ state: instance.state, updated_at: now, deleted_at: instance.state === 'deleted' ? now : null })
      .where('id', '=', instance.id)
      .execute();
  }
  return toLearningObject(row);
}

/** Creates a learning object: a draft from the UI, published from the migration workflow. Ids look like `course:1000001`. */
export async function createLearningObject(context: ProducerContext, accountId: number, input: NewLearningObject): Promise<LearningObject> {
  return runAction(context, accountId, `lo-create-${accountId}`, async (trx, _account, now) => {
    const children = input.children ?? [];
    await checkChildCourses(trx, accountId, input.loType, children);
    const inserted = await trx
      .insertInto('learning_objects')
      .values({
        id: `pending:${randomUUID()}`,
        account_id: accountId,
        lo_type: input.loType,
        name: input.name,
        description: input.description ?? '',
        state: 'draft',
        children: JSON.stringify(children),
        duration: input.duration ?? null,
        created_at: now,
        published_at: null,
        updated_at: now,
        deleted_at: null,
      })
      .returning('num')
      .executeTakeFirstOrThrow();
    const id = `${input.loType}:${inserted.num}`;
    await trx.updateTable('learning_objects').set({ id }).where('account_id', '=', accountId).where('num', '=', inserted.num).execute();
    const lo = await loadLearningObject(trx, accountId, id);
    const decided = rules.createLearningObject(lo, input.via ?? 'ui', now);
    return { value: await writeLearningObject(trx, lo, decided.changes, now), outcome: decided };
  });
}

export async function updateLearningObject(
  context: ProducerContext,
  accountId: number,
  loId: string,
  input: LearningObjectUpdate,
): Promise<LearningObject> {
  return runAction(context, accountId, `lo-update-${accountId}`, async (trx, _account, now) => {
    const lo = await loadLearningObject(trx, accountId, loId);
    const decided = rules.updateLearningObject(lo, input.via ?? 'ui');
    if (input.children !== undefined) await checkChildCourses(trx, accountId, lo.loType, input.children);
    const changed: LearningObject = {
      ...lo,
      name: input.name ?? lo.name,
      description: input.description ?? lo.description,
      duration: input.duration === undefined ? lo.duration : input.duration,
      children: input.children ?? lo.children,
    };
    return { value: await writeLearningObject(trx, changed, decided.changes, now), outcome: decided };
  });
}

type LifecycleRule = (lo: LearningObject, instances: Instance[], now: number) => ReturnType<typeof rules.publishLearningObject>;

function lifecycleAction(name: string, rule: LifecycleRule) {
  return (context: ProducerContext, accountId: number, loId: string): Promise<LearningObject> =>
    runAction(context, accountId, `lo-${name}-${accountId}`, async (trx, _account, now) => {
      const lo = await loadLearningObject(trx, accountId, loId);
      const decided = rule(lo, await loadInstances(trx, loId), now);
      return { value: await writeLearningObject(trx, lo, decided.changes, now), outcome: decided };
    });
}

export const publishLearningObject = lifecycleAction('publish', (lo, _instances, now) => rules.publishLearningObject(lo, now));
export const retireLearningObject = lifecycleAction('retire', (lo, instances) => rules.retireLearningObject(lo, instances));
export const deleteLearningObject = lifecycleAction('delete', (lo, instances) => rules.deleteLearningObject(lo, instances));

export interface LearningObjectView extends LearningObject {
  instances: Instance[];
}

/** One learning object with its instances that are not deleted; deleted learning objects are not found. */
export async function getLearningObject(context: ProducerContext, accountId: number, loId: string): Promise<LearningObjectView> {
  const db = context.database.db;
  const row = await db
    .selectFrom('learning_objects')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', '=', loId)
    .where('state', '!=', 'deleted')
    .executeTakeFirst();
  if (!row) throw notFound(`learning object ${loId}`);
  const instances = await db
    .selectFrom('lo_instances')
    .selectAll()
    .where('lo_id', '=', loId)
    .where('state', '!=', 'deleted')
    .orderBy('num')
    .execute();
  return { ...toLearningObject(row), instances: instances.map(toInstance) };
}
