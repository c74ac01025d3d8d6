// Applies one inbox row to the tables in the caller's transaction: dedupe by eventId, reduce, record anomalies.
import type { Selectable, Transaction } from 'kysely';
import { eventDefinition } from '../catalog/index.ts';
import { notifyOnApply } from './notify/record-notifications.ts';
import { type MirrorEvent, readEnvelopeShape, readEvent, type UnreadableEvent } from './parse-envelope.ts';
import {
  emptyLearningObject,
  emptyLoInstance,
  type Observation,
  reduceCiStats,
  reduceEnrollment,
  reduceLearningObject,
  reduceLoInstance,
} from './reducer.ts';
import type { InboxTable, MirrorSchema } from './schema.ts';
import { type SequenceChange, trackSequence } from './track-sequence.ts';

type Trx = Transaction<MirrorSchema>;
type InboxRow = Selectable<InboxTable>;

export interface ProjectionOutcome {
  applied: number;
  duplicates: number;
  ignored: number;
  outOfOrder: number;
  sequence: SequenceChange;
  /** Keys of LO, instance and user rows this batch made sure exist (see `ProjectionOptions.existing`). */
  touched: string[];
  /** Newest event timestamp of the batch (for the end-to-end lag); undefined for an empty or test batch. */
  newestEventAt?: number;
}

export interface ProjectionOptions {
  now: number;
  /** Queue the LO and user ids seen for the enricher (only when a read API is configured). */
  enrich: boolean;
  /** Keys of rows known to exist (committed earlier; rows are never deleted), so their insert can be skipped. */
  existing?: { has(key: string): boolean };
  /** --notify-digest-window, for the notification rules the events fire. */
  digestWindowMs?: number;
}

type AnomalyFacts = {
  accountId: number;
  kind: string;
  detail: string;
  inboxId: number;
  now: number;
  event?: MirrorEvent;
  subject?: string;
};

function anomalyRow(values: AnomalyFacts) {
  return {
    account_id: values.accountId,
    kind: values.kind,
    event_id: values.event?.eventId ?? null,
    event_name: values.event?.eventName ?? null,
    subject: values.subject ?? null,
    detail: values.detail,
    inbox_id: values.inboxId,
    recorded_at: values.now,
  };
}

async function recordAnomaly(trx: Trx, values: AnomalyFacts): Promise<void> {
  await trx.insertInto('anomalies').values(anomalyRow(values)).execute();
}

async function enqueue(trx: Trx, accountId: number, kind: 'learningObject' | 'user', entityId: string, now: number): Promise<void> {
  await trx
    .insertInto('enrichment_queue')
    .values({ account_id: accountId, kind, entity_id: entityId, requested_at: now, attempts: 0, not_before: now })
    .onConflict((conflict) => conflict.columns(['account_id', 'kind', 'entity_id']).doNothing())
    .execute();
}

/** Makes sure the LO, instance and user an event names have rows: a row exists once any event names it. */
async function touchReferenced(
  trx: Trx,
  accountId: number,
  event: MirrorEvent,
  options: ProjectionOptions,
  touched: string[],
): Promise<void> {
  const { loId, loType, loInstanceId, userId } = event.data;
  const isNew = (key: string) => !options.existing?.has(key) && !touched.includes(key);
  if (typeof loId === 'string' && typeof loType === 'string') {
    const loKey = `lo ${accountId} ${loId}`;
    if (isNew(loKey)) {
      const inserted = await trx
        .insertInto('learning_objects')
        .values(emptyLearningObject(accountId, loId, loType))
        .onConflict((conflict) => conflict.columns(['account_id', 'lo_id']).doNothing())
        .executeTakeFirst();
      touched.push(loKey);
      if (options.enrich && Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0)
        await enqueue(trx, accountId, 'learningObject', loId, options.now);
    }
    const instanceKey = `instance ${accountId} ${loInstanceId}`;
    if (typeof loInstanceId === 'string' && isNew(instanceKey)) {
      await trx
        .insertInto('lo_instances')
        .values(emptyLoInstance(accountId, loInstanceId, loId, loType))
        .onConflict((conflict) => conflict.columns(['account_id', 'lo_instance_id']).doNothing())
        .execute();
      touched.push(instanceKey);
    }
  }
  const userKey = `user ${accountId} ${userId}`;
  if (typeof userId === 'number' && isNew(userKey)) {
    const inserted = await trx
      .insertInto('users')
      .values({ ...emptyUserColumns, account_id: accountId, user_id: userId })
      .onConflict((conflict) => conflict.columns(['account_id', 'user_id']).doNothing())
      .executeTakeFirst();
    touched.push(userKey);
    if (options.enrich && Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0)
      await enqueue(trx, accountId, 'user', String(userId), options.now);
  }
}

const emptyUserColumns = {
  name: null,
  email: null,
  user_unique_id: null,
  user_type: null,
  state: null,
  time_zone_code: null,
  enriched_at: null,
};

/** Applies one catalog event; returns what the arrival order made visible. */
async function applyEvent(
  trx: Trx,
  accountId: number,
  event: MirrorEvent,
  options: ProjectionOptions,
  touched: string[],
): Promise<Observation[]> {
  const family = eventDefinition(event.eventName)?.family;
  await touchReferenced(trx, accountId, event, options, touched);
  switch (family) {
    case 'enrollment':
    case 'completion':
    case 'unenrollment':
    case 'progress': {
      const current = await trx
        .selectFrom('enrollments')
        .selectAll()
        .where('account_id', '=', accountId)
        .where('user_id', '=', Number(event.data.userId))
        .where('lo_instance_id', '=', String(event.data.loInstanceId))
        .executeTakeFirst();
      const { row, observations } = reduceEnrollment(current, accountId, event);
      const { account_id, user_id, lo_instance_id, ...changes } = row;
      await trx
        .insertInto('enrollments')
        .values(row)
        .onConflict((conflict) => conflict.columns(['account_id', 'user_id', 'lo_instance_id']).doUpdateSet(changes))
        .execute();
      return observations;
    }
    case 'learningObject': {
      const current = await trx
        .selectFrom('learning_objects')
        .selectAll()
        .where('account_id', '=', accountId)
        .where('lo_id', '=', String(event.data.loId))
        .executeTakeFirstOrThrow();
      const { row, observations } = reduceLearningObject(current, accountId, event);
      await trx
        .updateTable('learning_objects')
        .set({
          last_event_name: row.last_event_name,
          last_event_id: row.last_event_id,
          last_event_at: row.last_event_at,
          deleted_at: row.deleted_at,
        })
        .where('account_id', '=', accountId)
        .where('lo_id', '=', row.lo_id)
        .execute();
      // A later modification means the platform's data changed: fetch it again.
      if (options.enrich && row.deleted_at === null) await requeue(trx, accountId, row.lo_id, options.now);
      return observations;
    }
    case 'loInstance': {
      const current = await trx
        .selectFrom('lo_instances')
        .selectAll()
        .where('account_id', '=', accountId)
        .where('lo_instance_id', '=', String(event.data.loInstanceId))
        .executeTakeFirstOrThrow();
      const { row, observations } = reduceLoInstance(current, accountId, event);
      await trx
        .updateTable('lo_instances')
        .set({
          last_event_name: row.last_event_name,
          last_event_id: row.last_event_id,
          last_event_at: row.last_event_at,
          deleted_at: row.deleted_at,
        })
        .where('account_id', '=', accountId)
        .where('lo_instance_id', '=', row.lo_instance_id)
        .execute();
      if (options.enrich) await requeue(trx, accountId, row.lo_id, options.now);
      return observations;
    }
    case 'ciStats': {
      const current = await trx
        .selectFrom('ci_stats')
        .selectAll()
        .where('account_id', '=', accountId)
        .where('lo_instance_id', '=', String(event.data.loInstanceId))
        .executeTakeFirst();
      const { row, observations } = reduceCiStats(current, accountId, event);
      const { account_id, lo_instance_id, ...changes } = row;
      await trx
        .insertInto('ci_stats')
        .values(row)
        .onConflict((conflict) => conflict.columns(['account_id', 'lo_instance_id']).doUpdateSet(changes))
        .execute();
      return observations;
    }
    default:
      return [];
  }
}

/** Queues an LO for a fresh fetch (its instances come with it). */
async function requeue(trx: Trx, accountId: number, loId: string, now: number): Promise<void> {
  await trx
    .insertInto('enrichment_queue')
    .values({ account_id: accountId, kind: 'learningObject', entity_id: loId, requested_at: now, attempts: 0, not_before: now })
    .onConflict((conflict) => conflict.columns(['account_id', 'kind', 'entity_id']).doUpdateSet({ requested_at: now, not_before: now }))
    .execute();
}

function subjectOf(event: MirrorEvent): string | undefined {
  const { userId, loInstanceId, loId } = event.data;
  if (typeof userId === 'number' && typeof loInstanceId === 'string') return `${userId}/${loInstanceId}`;
  if (typeof loInstanceId === 'string') return loInstanceId;
  return typeof loId === 'string' ? loId : undefined;
}

/** The body of an inbox row cannot be read as an envelope at all (the receiver never stores one): the row is poison. */
export class UnreadableBatchError extends Error {
  override name = 'UnreadableBatchError';
}

/**
 * Records the events of a row that cannot be read or stored: each once in `held_events` (kept in the row's body, never
 * applied) with an `unreadable_event` anomaly; a row read again after retry-failed only refreshes their problems.
 */
async function holdEvents(trx: Trx, inbox: InboxRow, accountId: number, unreadable: readonly UnreadableEvent[], now: number) {
  if (unreadable.length === 0) return;
  const rows = unreadable.map((event) => ({
    inbox_id: inbox.id,
    position: event.position,
    account_id: accountId,
    event_id: event.eventId ?? null,
    event_name: event.eventName ?? null,
    problems: event.problems.join('; '),
    held_at: now,
    resolved_at: null,
  }));
  const inserted = await trx
    .insertInto('held_events')
    .values(rows)
    .onConflict((conflict) => conflict.columns(['inbox_id', 'position']).doNothing())
    .returning('position')
    .execute();
  const fresh = new Set(inserted.map((row) => row.position));
  const firstTime = rows.filter((row) => fresh.has(row.position));
  if (firstTime.length > 0) {
    await trx
      .insertInto('anomalies')
      .values(
        firstTime.map((row) => ({
          account_id: accountId,
          kind: 'unreadable_event',
          event_id: row.event_id,
          event_name: row.event_name,
          subject: `events[${row.position}]`,
          detail: `held, not applied (kept in inbox row ${inbox.id}; learnhook mirror retry-failed reads it again): ${row.problems}`,
          inbox_id: inbox.id,
          recorded_at: now,
        })),
      )
      .execute();
  }
  for (const row of rows.filter((candidate) => !fresh.has(candidate.position))) {
    await trx
      .updateTable('held_events')
      .set({ problems: row.problems })
      .where('inbox_id', '=', inbox.id)
      .where('position', '=', row.position)
      .execute();
  }
}

/** Projects one inbox row (not yet processed) and marks it processed, all in the caller's transaction. */
export async function projectBatch(trx: Trx, inbox: InboxRow, options: ProjectionOptions): Promise<ProjectionOutcome> {
  const outcome: ProjectionOutcome = {
    applied: 0,
    duplicates: 0,
    ignored: 0,
    outOfOrder: 0,
    sequence: { opened: [], closed: [] },
    touched: [],
  };
  // Test deliveries carry sample events outside the account's sequence: acknowledged, never applied.
  if (inbox.test) {
    await trx.updateTable('inbox').set({ processed_at: options.now }).where('id', '=', inbox.id).execute();
    return outcome;
  }
  const shape = readEnvelopeShape(JSON.parse(inbox.body));
  if (!shape.ok) throw new UnreadableBatchError(`inbox row ${inbox.id} is not a delivery envelope: ${shape.problems.join('; ')}`);
  const { accountId } = shape;
  const readings = shape.events.map((raw, position) => readEvent(raw, position));
  const readable = readings.flatMap((reading) => (reading.ok ? [reading] : []));
  const events = readable.map((reading) => reading.event);
  const base = { accountId, inboxId: inbox.id, now: options.now };
  if (inbox.seq_first !== null && inbox.seq_last !== null) {
    outcome.sequence = await trackSequence(trx, accountId, inbox.seq_first, inbox.seq_last, options.now);
    for (const gap of outcome.sequence.opened) {
      await recordAnomaly(trx, { ...base, kind: 'gap', detail: `sequence ${gap.firstMissing}-${gap.lastMissing} is missing` });
    }
    for (const gap of outcome.sequence.closed) {
      await recordAnomaly(trx, { ...base, kind: 'gap_closed', detail: `sequence ${gap.firstMissing}-${gap.lastMissing} arrived` });
    }
  }
  const unreadable = readings.flatMap((reading) => (reading.ok ? [] : [reading]));
  await holdEvents(trx, inbox, accountId, unreadable, options.now);
  // A row read again (retry-failed) resolves the events it held that can now be read.
  if (inbox.held > 0 && readable.length > 0) {
    await trx
      .updateTable('held_events')
      .set({ resolved_at: options.now })
      .where('inbox_id', '=', inbox.id)
      .where('resolved_at', 'is', null)
      .where(
        'position',
        'in',
        readable.map((reading) => reading.position),
      )
      .execute();
  }
  // One statement records every event id of the batch; those it did not insert were applied before.
  const inserted =
    events.length === 0
      ? []
      : await trx
          .insertInto('processed_events')
          .values(
            events.map((event) => ({
              account_id: accountId,
              event_id: event.eventId,
              event_name: event.eventName,
              event_at: event.timestamp,
              inbox_id: inbox.id,
            })),
          )
          .onConflict((conflict) => conflict.columns(['account_id', 'event_id']).doNothing())
          .returning('event_id')
          .execute();
  const fresh = new Set(inserted.map((row) => row.event_id));
  const seenBefore = events.filter((event) => !fresh.has(event.eventId)).map((event) => event.eventId);
  // Events this very row applied before it was read again are no duplicates: they are skipped without a word.
  const appliedByThisRow = new Set(
    seenBefore.length === 0
      ? []
      : (
          await trx
            .selectFrom('processed_events')
            .select('event_id')
            .where('account_id', '=', accountId)
            .where('inbox_id', '=', inbox.id)
            .where('event_id', 'in', [...new Set(seenBefore)])
            .execute()
        ).map((row) => row.event_id),
  );
  // What the events show (duplicates, unknown names, the ordering rules' findings), written in one statement after them.
  const anomalies: ReturnType<typeof anomalyRow>[] = [];
  for (const event of events) {
    // Deleting on first use makes a second copy within the same batch a duplicate too.
    if (!fresh.delete(event.eventId)) {
      if (appliedByThisRow.has(event.eventId)) continue;
      outcome.newestEventAt = Math.max(outcome.newestEventAt ?? event.timestamp, event.timestamp);
      outcome.duplicates++;
      anomalies.push(anomalyRow({ ...base, event, kind: 'duplicate_event', detail: 'this eventId was applied before; skipped' }));
      continue;
    }
    outcome.newestEventAt = Math.max(outcome.newestEventAt ?? event.timestamp, event.timestamp);
    if (!event.known) {
      anomalies.push(
        anomalyRow({ ...base, event, kind: 'unknown_event', detail: `"${event.eventName}" is not in the catalog; stored, not applied` }),
      );
      continue;
    }
    // Notifications are recorded in this same transaction, from what the mirror decided: exactly once per (rule, event).
    const observations = await notifyOnApply(trx, accountId, event, options, () =>
      applyEvent(trx, accountId, event, options, outcome.touched),
    );
    outcome.applied++;
    for (const observation of observations) {
      if (observation.kind === 'ignored_by_rule') outcome.ignored++;
      else outcome.outOfOrder++;
      const subject = subjectOf(event);
      anomalies.push(anomalyRow({ ...base, event, kind: observation.kind, detail: observation.detail, ...(subject ? { subject } : {}) }));
    }
  }
  // In slices: PostgreSQL takes at most 65,535 parameters per statement.
  for (let start = 0; start < anomalies.length; start += 500)
    await trx
      .insertInto('anomalies')
      .values(anomalies.slice(start, start + 500))
      .execute();
  await trx.updateTable('inbox').set({ processed_at: options.now, held: unreadable.length }).where('id', '=', inbox.id).execute();
  return outcome;
}
