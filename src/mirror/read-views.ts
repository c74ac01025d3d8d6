// What the mirror's page reads: per-account progress, anomalies with examples, set-aside rows, and the mirrored
// enrollments with learner and course names.
import { sql } from 'kysely';
import type { MirrorContext } from './mirror-context.ts';

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString());

/** Each account the mirror has heard of: the last event it applied, what is pending (the lag), its sequence and gaps. */
export async function readAccounts(context: MirrorContext) {
  const { db } = context.database;
  const now = context.now();
  const ids = await db
    .selectFrom('inbox')
    .select('account_id')
    .distinct()
    .union(db.selectFrom('sequence_marks').select('account_id'))
    .execute();
  const accounts = [];
  for (const { account_id: accountId } of ids.sort((a, b) => a.account_id - b.account_id)) {
    const last = await db
      .selectFrom('processed_events')
      .innerJoin('inbox', 'inbox.id', 'processed_events.inbox_id')
      .select(['processed_events.event_id', 'processed_events.event_name', 'processed_events.event_at', 'inbox.processed_at'])
      .where('processed_events.account_id', '=', accountId)
      .orderBy('processed_events.inbox_id', 'desc')
      .orderBy('processed_events.event_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    const pending = await db
      .selectFrom('inbox')
      .select([sql<number>`count(*)`.as('count'), sql<number | null>`min(received_at)`.as('oldest')])
      .where('account_id', '=', accountId)
      .where('processed_at', 'is', null)
      .where('failed_at', 'is', null)
      .executeTakeFirstOrThrow();
    const mark = await db.selectFrom('sequence_marks').select('highest_seq').where('account_id', '=', accountId).executeTakeFirst();
    const gaps = await db
      .selectFrom('sequence_gaps')
      .select(sql<number>`count(*)`.as('count'))
      .where('account_id', '=', accountId)
      .where('closed_at', 'is', null)
      .executeTakeFirstOrThrow();
    const enrollments = await db
      .selectFrom('enrollments')
      .select(sql<number>`count(*)`.as('count'))
      .where('account_id', '=', accountId)
      .executeTakeFirstOrThrow();
    accounts.push({
      accountId,
      lastApplied: last
        ? { eventId: last.event_id, eventName: last.event_name, eventAt: iso(last.event_at), appliedAt: iso(last.processed_at) }
        : null,
      pendingBatches: Number(pending.count),
      /** How long the oldest batch not yet applied has waited: 0 when nothing is pending. */
      lagMs: pending.oldest === null ? 0 : Math.max(0, now - Number(pending.oldest)),
      highestSequence: mark?.highest_seq ?? null,
      openGaps: Number(gaps.count),
      enrollments: Number(enrollments.count),
    });
  }
  return { accounts };
}

/** Every anomaly kind with its count and its newest examples. */
export async function readAnomalies(context: MirrorContext, examples: number) {
  const { db } = context.database;
  const kinds = await db
    .selectFrom('anomalies')
    .select(['kind', sql<number>`count(*)`.as('count')])
    .groupBy('kind')
    .orderBy('kind')
    .execute();
  const result = [];
  for (const { kind, count } of kinds) {
    const rows = await db.selectFrom('anomalies').selectAll().where('kind', '=', kind).orderBy('id', 'desc').limit(examples).execute();
    result.push({
      kind,
      count: Number(count),
      examples: rows.map((row) => ({
        id: row.id,
        accountId: row.account_id,
        eventId: row.event_id,
        eventName: row.event_name,
        subject: row.subject,
        detail: row.detail,
        inboxId: row.inbox_id,
        recordedAt: iso(row.recorded_at),
      })),
    });
  }
  return { kinds: result };
}

/** Inbox rows set aside after `--projection-attempts` failures, waiting to be put back. */
export async function readSetAside(context: MirrorContext, limit: number) {
  const rows = await context.database.db
    .selectFrom('inbox')
    .select(['id', 'account_id', 'batch_id', 'seq_first', 'seq_last', 'event_count', 'attempts', 'last_error', 'received_at', 'failed_at'])
    .where('failed_at', 'is not', null)
    .where('processed_at', 'is', null)
    .orderBy('id')
    .limit(limit)
    .execute();
  return {
    rows: rows.map((row) => ({
      inboxId: row.id,
      accountId: row.account_id,
      batchId: row.batch_id,
      sequence: row.seq_first === null ? null : { first: row.seq_first, last: row.seq_last },
      eventCount: row.event_count,
      attempts: row.attempts,
      lastError: row.last_error,
      receivedAt: iso(row.received_at),
      setAsideAt: iso(row.failed_at),
    })),
  };
}

/** The mirrored enrollments of an account, newest change first, with the learner's and the learning object's names. */
export async function readEnrollments(context: MirrorContext, accountId: number | undefined, limit: number, offset: number) {
  let query = context.database.db
    .selectFrom('enrollments as e')
    .leftJoin('users as u', (join) => join.onRef('u.account_id', '=', 'e.account_id').onRef('u.user_id', '=', 'e.user_id'))
    .leftJoin('learning_objects as lo', (join) => join.onRef('lo.account_id', '=', 'e.account_id').onRef('lo.lo_id', '=', 'e.lo_id'))
    .leftJoin('lo_instances as i', (join) =>
      join.onRef('i.account_id', '=', 'e.account_id').onRef('i.lo_instance_id', '=', 'e.lo_instance_id'),
    )
    .select([
      'e.account_id',
      'e.user_id',
      'u.name as learner',
      'u.email',
      'e.lo_id',
      'e.lo_type',
      'lo.name as lo_name',
      'e.lo_instance_id',
      'i.name as instance_name',
      'e.status',
      'e.progress_percent',
      'e.has_passed',
      'e.date_enrolled',
      'e.date_completed',
      'e.last_event_at',
    ])
    .orderBy('e.last_event_at', 'desc')
    .orderBy('e.user_id')
    .limit(limit)
    .offset(offset);
  if (accountId !== undefined) query = query.where('e.account_id', '=', accountId);
  const rows = await query.execute();
  return {
    enrollments: rows.map((row) => ({
      accountId: row.account_id,
      userId: row.user_id,
      learner: row.learner,
      email: row.email,
      loId: row.lo_id,
      loType: row.lo_type,
      learningObject: row.lo_name,
      loInstanceId: row.lo_instance_id,
      instance: row.instance_name,
      status: row.status,
      progressPercent: row.progress_percent,
      hasPassed: row.has_passed === null ? null : Boolean(row.has_passed),
      dateEnrolled: iso(row.date_enrolled),
      dateCompleted: iso(row.date_completed),
      lastEventAt: iso(row.last_event_at),
    })),
  };
}
