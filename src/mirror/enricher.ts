// The enricher: fetches the LOs (with instances) and users the events named, ten ids a call, within the shared rate budget.
import type { RunningService } from '../server.ts';
import type { MirrorContext } from './mirror-context.ts';
import { type InstanceResource, type LearningObjectResource, maxIdsPerCall, ReadApiClient, type UserResource } from './read-api-client.ts';
import { emptyLoInstance } from './reducer.ts';
import type { EnrichmentQueueTable } from './schema.ts';
import { blockRateUntil, takeRateSlot } from './take-rate-slot.ts';

export type EnrichStep = { kind: 'idle' } | { kind: 'wait'; waitMs: number } | { kind: 'fetched'; ids: number };

export interface RunningEnricher extends RunningService {
  /** Runs one step now (for tests): fetch one batch of due ids, or report why not. */
  step(): Promise<EnrichStep>;
}

const timeOf = (iso: string | null | undefined) => (iso ? Date.parse(iso) : null);
const maxBackoffMs = 60_000;
/** How long a claimed id is left to the process that claimed it; after a crash, another takes it then. */
const claimMs = 60_000;

type QueueEntry = Pick<EnrichmentQueueTable, 'account_id' | 'kind' | 'entity_id'>;

/** Moves an entry's next attempt. */
async function setNotBefore(context: MirrorContext, entry: QueueEntry, notBefore: number): Promise<void> {
  await context.database.db
    .updateTable('enrichment_queue')
    .set({ not_before: notBefore })
    .where('account_id', '=', entry.account_id)
    .where('kind', '=', entry.kind)
    .where('entity_id', '=', entry.entity_id)
    .execute();
}

async function writeLearningObjects(
  context: MirrorContext,
  accountId: number,
  learningObjects: readonly LearningObjectResource[],
  instances: readonly InstanceResource[],
): Promise<void> {
  const now = context.now();
  await context.database.db.transaction().execute(async (trx) => {
    for (const lo of learningObjects) {
      const { attributes } = lo;
      const metadata = attributes.localizedMetadata[0];
      await trx
        .updateTable('learning_objects')
        .set({
          name: metadata?.name ?? null,
          description: metadata?.description ?? null,
          state: attributes.state,
          date_created: timeOf(attributes.dateCreated),
          date_published: timeOf(attributes.datePublished),
          date_updated: timeOf(attributes.dateUpdated),
          duration: attributes.duration,
          lo_format: attributes.loFormat,
          enrollment_type: attributes.enrollmentType,
          enriched_at: now,
        })
        .where('account_id', '=', accountId)
        .where('lo_id', '=', lo.id)
        .execute();
    }
    for (const instance of instances) {
      const { attributes } = instance;
      const loId = instance.relationships.learningObject.data.id;
      const enriched = {
        name: attributes.localizedMetadata[0]?.name ?? null,
        state: attributes.state,
        is_default: attributes.isDefault ? 1 : 0,
        seat_limit: attributes.seatLimit,
        waitlist_limit: attributes.waitlistLimit,
        enrollment_deadline: timeOf(attributes.enrollmentDeadline),
        date_created: timeOf(attributes.dateCreated),
        enriched_at: now,
      };
      await trx
        .insertInto('lo_instances')
        .values({ ...emptyLoInstance(accountId, instance.id, loId, loId.split(':')[0] ?? ''), ...enriched })
        .onConflict((conflict) => conflict.columns(['account_id', 'lo_instance_id']).doUpdateSet(enriched))
        .execute();
    }
    // Retiring an LO retires its instances: show it even for an instance the API no longer lists.
    const retired = learningObjects.filter((lo) => lo.attributes.state === 'Retired').map((lo) => lo.id);
    if (retired.length > 0) {
      await trx
        .updateTable('lo_instances')
        .set({ state: 'Retired' })
        .where('account_id', '=', accountId)
        .where('lo_id', 'in', retired)
        .execute();
    }
  });
}

async function writeUsers(context: MirrorContext, accountId: number, users: readonly UserResource[]): Promise<void> {
  const now = context.now();
  await context.database.db.transaction().execute(async (trx) => {
    for (const user of users) {
      const { attributes } = user;
      await trx
        .updateTable('users')
        .set({
          name: attributes.name,
          email: attributes.email,
          user_unique_id: attributes.userUniqueId,
          user_type: attributes.userType,
          state: attributes.state,
          time_zone_code: attributes.timeZoneCode,
          enriched_at: now,
        })
        .where('account_id', '=', accountId)
        .where('user_id', '=', Number(user.id))
        .execute();
    }
  });
}

/** One step: the oldest due ids of one account and kind, at most ten, fetched in one call if the budget allows. */
/**
 * Claims the oldest due ids of one account and kind, at most ten, for one call: their next attempt moves a claim
 * period ahead, so other mirror processes on this database pass over them (PostgreSQL: SKIP LOCKED while claiming).
 */
async function claimDue(context: MirrorContext, now: number): Promise<EnrichmentQueueTable[]> {
  const { database } = context;
  return database.db.transaction().execute(async (trx) => {
    const first = await trx
      .selectFrom('enrichment_queue')
      .select(['account_id', 'kind'])
      .where('not_before', '<=', now)
      .orderBy('requested_at')
      .limit(1)
      .executeTakeFirst();
    if (!first) return [];
    let query = trx
      .selectFrom('enrichment_queue')
      .selectAll()
      .where('account_id', '=', first.account_id)
      .where('kind', '=', first.kind)
      .where('not_before', '<=', now)
      .orderBy('requested_at')
      .limit(maxIdsPerCall);
    query = database.claimRows(query);
    const due = await query.execute();
    for (const entry of due) {
      await trx
        .updateTable('enrichment_queue')
        .set({ not_before: now + claimMs })
        .where('account_id', '=', entry.account_id)
        .where('kind', '=', entry.kind)
        .where('entity_id', '=', entry.entity_id)
        .execute();
    }
    return due;
  });
}

/** One step: claim up to ten due ids and fetch them in one call, if the budget allows. */
export async function enrichStep(context: MirrorContext, client: ReadApiClient): Promise<EnrichStep> {
  const { db } = context.database;
  const now = context.now();
  const due = await claimDue(context, now);
  if (due.length === 0) return { kind: 'idle' };
  const kind = due[0]?.kind;
  const accountId = due[0]?.account_id as number;
  const { enrichRateLimit, enrichRateWindowMs } = context.settings;
  const slot = await takeRateSlot(context.database, enrichRateLimit, enrichRateWindowMs, now);
  if (!slot.granted) {
    for (const entry of due) await setNotBefore(context, entry, now + slot.waitMs);
    return { kind: 'wait', waitMs: slot.waitMs };
  }
  const ids = due.map((entry) => entry.entity_id);
  const answer = kind === 'user' ? await client.users(ids) : await client.learningObjects(ids);
  if (!answer.ok) {
    if ('rateLimitedForMs' in answer) {
      await blockRateUntil(context.database, context.now() + answer.rateLimitedForMs);
      for (const entry of due) await setNotBefore(context, entry, context.now() + answer.rateLimitedForMs);
      context.logger.warn(`the read API answered 429; no call for ${answer.rateLimitedForMs} ms`);
      return { kind: 'wait', waitMs: answer.rateLimitedForMs };
    }
    context.logger.warn(`enrichment of ${ids.length} ${kind} ids failed, retrying later: ${answer.error}`);
    for (const entry of due) {
      await db
        .updateTable('enrichment_queue')
        .set({ attempts: entry.attempts + 1, not_before: now + Math.min(maxBackoffMs, 1000 * 2 ** entry.attempts) })
        .where('account_id', '=', entry.account_id)
        .where('kind', '=', entry.kind)
        .where('entity_id', '=', entry.entity_id)
        .execute();
    }
    return { kind: 'fetched', ids: 0 };
  }
  if (kind === 'user') await writeUsers(context, accountId, answer.value as UserResource[]);
  else {
    const { learningObjects, instances } = answer.value as { learningObjects: LearningObjectResource[]; instances: InstanceResource[] };
    await writeLearningObjects(context, accountId, learningObjects, instances);
  }
  // An id queued again while the call was out (a later modification) stays queued for a fresh fetch.
  for (const entry of due) {
    await db
      .deleteFrom('enrichment_queue')
      .where('account_id', '=', entry.account_id)
      .where('kind', '=', entry.kind)
      .where('entity_id', '=', entry.entity_id)
      .where('requested_at', '<=', entry.requested_at)
      .execute();
  }
  return { kind: 'fetched', ids: ids.length };
}

export function startEnricher(context: MirrorContext): RunningEnricher {
  const client = new ReadApiClient(context.settings.api, context.settings.apiToken);
  let stopped = false;
  let wake: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  const onQueued = () => wake?.();
  context.signals.on('enrichment-queued', onQueued);
  const loop = (async () => {
    while (!stopped) {
      let result: EnrichStep;
      try {
        result = await enrichStep(context, client);
      } catch (error) {
        context.logger.error({ err: error }, 'the enricher failed; it tries again shortly');
        result = { kind: 'wait', waitMs: 1000 };
      }
      if (result.kind === 'idle') await sleep(1000);
      else if (result.kind === 'wait') await sleep(Math.min(result.waitMs, 5000));
      wake = undefined;
    }
  })();
  return {
    name: 'enricher',
    step: () => enrichStep(context, client),
    async stop() {
      stopped = true;
      context.signals.off('enrichment-queued', onQueued);
      wake?.();
      await loop;
    },
  };
}
