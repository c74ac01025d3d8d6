// Instance actions (create, change, suspend, retire, delete) and reads. The first instance of a learning object is its default:
// learning programs and certifications enroll their learners in their courses' default instances.
import { randomUUID } from 'node:crypto';
import type { ProducerContext } from '../context.ts';
import { notFound } from '../errors.ts';
import { type Instance, type LearningObject, toInstance, type Via } from './domain.ts';
import { loadLearningObject } from './learning-objects.ts';
import * as rules from './rules/instances.ts';
import { runAction, type Trx } from './run-action.ts';

export interface NewInstance extends rules.InstanceSettings {
  name: string;
  via?: Via;
}

export interface InstanceUpdate extends rules.InstanceSettings {
  via?: Via;
}

export async function loadInstance(trx: Trx, accountId: number, instanceId: string): Promise<Instance> {
  const row = await trx
    .selectFrom('lo_instances')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', '=', instanceId)
    .executeTakeFirst();
  if (!row) throw notFound(`instance ${instanceId}`);
  return toInstance(row);
}

/** The instance and its learning object, when the instance belongs to it. */
async function loadPair(
  trx: Trx,
  accountId: number,
  loId: string,
  instanceId: string,
): Promise<{ lo: LearningObject; instance: Instance }> {
  const lo = await loadLearningObject(trx, accountId, loId);
  const instance = await loadInstance(trx, accountId, instanceId);
  if (instance.loId !== lo.id) throw notFound(`instance ${instanceId} of ${loId}`);
  return { lo, instance };
}

async function writeInstance(trx: Trx, instance: Instance, settings: rules.InstanceSettings, changes: rules.InstanceChanges, now: number) {
  const row = await trx
    .updateTable('lo_instances')
    .set({
      name: settings.name ?? instance.name,
      seat_limit: changes.instance.seatLimit,
      waitlist_limit: changes.instance.waitlistLimit,
      self_paced: (settings.selfPaced ?? instance.selfPaced) ? 1 : 0,
      enrollment_deadline: settings.enrollmentDeadline === undefined ? instance.enrollmentDeadline : settings.enrollmentDeadline,
      state: changes.instance.state,
      updated_at: now,
      deleted_at: changes.instance.state === 'deleted' ? now : null,
    })
    .where('id', '=', instance.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  return toInstance(row);
}

/** Creates an instance; its id is `<loId>_<number>`. */
export async function createInstance(context: ProducerContext, accountId: number, loId: string, input: NewInstance): Promise<Instance> {
  return runAction(context, accountId, `instance-create-${accountId}`, async (trx, _account, now) => {
    const lo = await loadLearningObject(trx, accountId, loId);
    const existing = await trx
      .selectFrom('lo_instances')
      .select('id')
      .where('lo_id', '=', loId)
      .where('state', '!=', 'deleted')
      .executeTakeFirst();
    const inserted = await trx
      .insertInto('lo_instances')
      .values({
        id: `pending:${randomUUID()}`,
        lo_id: loId,
        account_id: accountId,
        name: input.name,
        seat_limit: null,
        waitlist_limit: null,
        is_default: existing ? 0 : 1,
        state: 'active',
        enrollment_deadline: null,
        created_at: now,
        updated_at: now,
        deleted_at: null,
      })
      .returning('num')
      .executeTakeFirstOrThrow();
    const id = `${loId}_${inserted.num}`;
    await trx.updateTable('lo_instances').set({ id }).where('account_id', '=', accountId).where('num', '=', inserted.num).execute();
    const instance = await loadInstance(trx, accountId, id);
    const decided = rules.createInstance(lo, instance, input, input.via ?? 'ui');
    return { value: await writeInstance(trx, instance, input, decided.changes, now), outcome: decided };
  });
}

export async function updateInstance(
  context: ProducerContext,
  accountId: number,
  loId: string,
  instanceId: string,
  input: InstanceUpdate,
): Promise<Instance> {
  return runAction(context, accountId, `instance-update-${accountId}`, async (trx, _account, now) => {
    const { lo, instance } = await loadPair(trx, accountId, loId, instanceId);
    const decided = rules.updateInstance(lo, instance, input, input.via ?? 'ui');
    return { value: await writeInstance(trx, instance, input, decided.changes, now), outcome: decided };
  });
}

export async function retireInstance(context: ProducerContext, accountId: number, loId: string, instanceId: string): Promise<Instance> {
  return runAction(context, accountId, `instance-retire-${accountId}`, async (trx, _account, now) => {
    const { lo, instance } = await loadPair(trx, accountId, loId, instanceId);
    const decided = rules.retireInstance(lo, instance);
    return { value: await writeInstance(trx, instance, {}, decided.changes, now), outcome: decided };
  });
}

export async function deleteInstance(context: ProducerContext, accountId: number, loId: string, instanceId: string): Promise<Instance> {
  return runAction(context, accountId, `instance-delete-${accountId}`, async (trx, _account, now) => {
    const { lo, instance } = await loadPair(trx, accountId, loId, instanceId);
    const decided = rules.deleteInstance(lo, instance);
    return { value: await writeInstance(trx, instance, {}, decided.changes, now), outcome: decided };
  });
}

/** One instance that is not deleted. */
export async function getInstance(context: ProducerContext, accountId: number, loId: string, instanceId: string): Promise<Instance> {
  const row = await context.database.db
    .selectFrom('lo_instances')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('lo_id', '=', loId)
    .where('id', '=', instanceId)
    .where('state', '!=', 'deleted')
    .executeTakeFirst();
  if (!row) throw notFound(`instance ${instanceId} of ${loId}`);
  return toInstance(row);
}
