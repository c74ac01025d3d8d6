// Housekeeping beside the dispatcher: the retention purge (recording what lagging webhooks lose), the logs' time partitions
// (PostgreSQL) and reminder/disable e-mails.
import type { Transaction } from 'kysely';
import type { ProducerContext } from '../context.ts';
import { type Repeating, runEvery } from '../run-every.ts';
import {
  createPartition,
  dropPartition,
  listPartitions,
  partitionedLogs,
  partitionsToCreate,
  partitionsToDrop,
  partitionWidth,
} from '../store/log-partitions.ts';
import type { DeliveryAttemptsTable, EventsTable, ProducerSchema } from '../store/schema.ts';
import { noBatchInFlight } from '../webhooks/webhooks.ts';
import { decideFailureAction } from './failure-policy.ts';
import { disabledMail, failingMail, type Notifier } from './notifier.ts';
import { lossOnPurge, lossRangeEnd, retentionCutoff } from './retention.ts';

export interface LostRange {
  firstSeq: number;
  lastSeq: number;
  count: number;
  at: string;
}

/**
 * Purges the events out of retention, account by account. In the same transaction every webhook whose cursor
 * is behind them loses them: the count and range are recorded, its cursor passes them, and its delivery
 * sequence jumps by the count so its receiver sees the gap. Where the logs are partitioned by time, the events in
 * partitions are only passed over here (no longer delivered nor counted as backlog) and go when their partition is
 * wholly out of retention and dropped, with the attempts log's; the rows no partition holds are deleted as before.
 * Returns the number of events that passed out of retention.
 */
export async function purgeExpiredEvents(context: ProducerContext): Promise<number> {
  const now = context.now();
  const cutoff = retentionCutoff(now, context.settings.retentionMs);
  const partitioned = context.database.partitionedLogs;
  let purged = 0;
  for (;;) {
    const { count, more } = await purgeOldest(context, partitioned ? 'events_default' : 'events', now, cutoff);
    purged += count;
    if (!more) break;
  }
  await logTables(context)
    .deleteFrom(partitioned ? 'delivery_attempts_default' : 'delivery_attempts')
    .where('started_at', '<', cutoff)
    .execute();
  if (!partitioned) return purged;
  purged += await passOverExpiredEvents(context, now, cutoff);
  for (const log of partitionedLogs) {
    for (const partition of partitionsToDrop(await listPartitions(context.database.db, log), cutoff)) {
      if (await dropPartition(context.database.db, log, partition))
        context.logger.info({ partition: partition.name }, `dropped partition ${partition.name}: all its rows are out of retention`);
      else context.logger.warn({ partition: partition.name }, `partition ${partition.name} is kept until the next pass: the log was busy`);
    }
  }
  return purged;
}

/**
 * Creates the partitions of the logs for the times to come (where they are partitioned), so inserts land in a partition
 * and retention can drop it whole. Bounds follow the app's clock (`context.now`), so an injected clock works too.
 */
export async function prepareLogPartitions(context: ProducerContext): Promise<void> {
  if (!context.database.partitionedLogs) return;
  const now = context.now();
  const width = partitionWidth(context.settings.retentionMs);
  for (const log of partitionedLogs) {
    for (const range of partitionsToCreate(await listPartitions(context.database.db, log), now, width)) {
      const name = await createPartition(context.database.db, log, range);
      if (!name) {
        // The next ones wait too, so the partitions stay contiguous; meanwhile the DEFAULT partition takes the rows.
        context.logger.warn(
          { log: log.table, ...range },
          `the partitions of ${log.table} ahead wait for the next pass: the log was busy, or its DEFAULT partition has rows of their time`,
        );
        break;
      }
      context.logger.debug({ partition: name, ...range }, `created partition ${name}`);
    }
  }
}

/** The producer's tables with the DEFAULT partitions of the partitioned logs, whose expired rows are deleted one by one. */
function logTables(context: ProducerContext) {
  return context.database.db.withTables<{ events_default: EventsTable; delivery_attempts_default: DeliveryAttemptsTable }>();
}

/** Expired events read per step of the purge. */
const purgeStep = 1000;

/**
 * Purges the oldest expired events of `table` (at most `purgeStep`), read in the order of the `created_at` index: a
 * range read however large the log. (A `GROUP BY account_id` over the expired events made SQLite walk the whole log
 * through the account index on every pass, blocking its one thread ~0.3 ms per 1,000 events logged, every poll interval.)
 */
async function purgeOldest(
  context: ProducerContext,
  table: 'events' | 'events_default',
  now: number,
  cutoff: number,
): Promise<{ count: number; more: boolean }> {
  const db = logTables(context);
  const oldest = await db
    .selectFrom(table)
    .select(['account_id', 'seq'])
    .where('created_at', '<', cutoff)
    .orderBy('created_at')
    .limit(purgeStep)
    .execute();
  const expired = new Map<number, number>();
  for (const { account_id: accountId, seq } of oldest) expired.set(accountId, Math.max(seq, expired.get(accountId) ?? 0));
  let purged = 0;
  for (const [accountId, through] of expired) {
    purged += await db.transaction().execute(async (trx) => {
      await loseExpiredEvents(context, trx, accountId, through, now);
      const deleted = await trx.deleteFrom(table).where('account_id', '=', accountId).where('seq', '<=', through).executeTakeFirst();
      return Number(deleted.numDeletedRows);
    });
  }
  return { count: purged, more: oldest.length === purgeStep };
}

/**
 * Where the previous pass stopped passing over partitioned events, per database: each pass reads only the events that
 * expired since (through the `created_at` index). A process that takes the lead, or restarts, reads from the oldest
 * partition once; passing over again is harmless (a webhook already past loses nothing).
 */
const passedOverBefore = new WeakMap<object, number>();

/** Passes every lagging webhook over the partitioned events that expired since the previous pass (rows stay). */
async function passOverExpiredEvents(context: ProducerContext, now: number, cutoff: number): Promise<number> {
  const { db } = context.database;
  const from = passedOverBefore.get(context.database) ?? Number.MIN_SAFE_INTEGER;
  if (from >= cutoff) return 0;
  const expired = await db
    .selectFrom('events')
    .select((eb) => ['account_id', eb.fn.max<number>('seq').as('through'), eb.fn.countAll<number | string>().as('count')])
    .where('created_at', '>=', from)
    .where('created_at', '<', cutoff)
    .groupBy('account_id')
    .execute();
  let passed = 0;
  for (const { account_id: accountId, through, count } of expired) {
    await db.transaction().execute((trx) => loseExpiredEvents(context, trx, accountId, through, now));
    passed += Number(count);
  }
  passedOverBefore.set(context.database, cutoff);
  return passed;
}

/**
 * In the caller's transaction, every webhook of the account whose cursor is behind `through` loses the events up to
 * it: the count and range are recorded, its cursor passes them, and its delivery sequence jumps by the count.
 */
async function loseExpiredEvents(
  context: ProducerContext,
  trx: Transaction<ProducerSchema>,
  accountId: number,
  through: number,
  now: number,
): Promise<void> {
  // Hold the rows so a dispatcher cannot settle a batch while its events are being declared lost.
  const query = context.database.lockRows(
    trx.selectFrom('webhooks').selectAll().where('account_id', '=', accountId).where('cursor', '<', through),
  );
  for (const webhook of await query.execute()) {
    // The batch in flight and the batches planned after it have their delivery numbers: they count as one.
    const planned = webhook.batch_plan === null ? [] : (JSON.parse(webhook.batch_plan) as { lastSeq: number; deliveryLast: number }[]);
    const lastPlanned = planned[planned.length - 1];
    const batchLastSeq = lastPlanned?.lastSeq ?? webhook.batch_last_seq;
    const batchDeliveryLast = lastPlanned?.deliveryLast ?? webhook.batch_delivery_last;
    const batchEventCount =
      webhook.batch_delivery_first !== null && batchDeliveryLast !== null ? batchDeliveryLast - webhook.batch_delivery_first + 1 : 0;
    const position = {
      cursor: webhook.cursor,
      deliverySeq: webhook.delivery_seq,
      batch:
        webhook.batch_first_seq !== null && batchLastSeq !== null
          ? { firstSeq: webhook.batch_first_seq, lastSeq: batchLastSeq, eventCount: batchEventCount }
          : null,
    };
    const end = lossRangeEnd(position, through);
    const chosen = JSON.parse(webhook.events) as string[];
    const counted = await trx
      .selectFrom('events')
      .select((eb) => eb.fn.countAll<number | string>().as('count'))
      .where('account_id', '=', accountId)
      .where('seq', '>', webhook.cursor)
      .where('seq', '<=', end)
      .where('event_name', 'in', chosen.length > 0 ? chosen : [''])
      .executeTakeFirstOrThrow();
    const loss = lossOnPurge(position, through, end, Number(counted.count));
    if (!loss) continue;
    const ranges = JSON.parse(webhook.lost_ranges) as LostRange[];
    if (loss.count > 0) ranges.push({ firstSeq: loss.firstSeq, lastSeq: loss.lastSeq, count: loss.count, at: new Date(now).toISOString() });
    await trx
      .updateTable('webhooks')
      .set({
        cursor: loss.lastSeq,
        delivery_seq: loss.deliverySeq,
        lost_count: webhook.lost_count + loss.count,
        lost_ranges: JSON.stringify(ranges.slice(-100)),
        ...(loss.dropBatch ? noBatchInFlight : {}),
      })
      .where('id', '=', webhook.id)
      .execute();
    if (loss.count > 0)
      context.logger.warn({ webhookId: webhook.id, ...loss }, `webhook ${webhook.id} lost ${loss.count} events to retention`);
  }
}

/** Sends reminders for failing webhooks and disables those failing for longer than `disableAfterMs`. */
export async function remindOrDisableFailing(context: ProducerContext, notifier: Notifier): Promise<void> {
  const { db } = context.database;
  const now = context.now();
  const failing = await db
    .selectFrom('webhooks')
    .innerJoin('accounts', 'accounts.id', 'webhooks.account_id')
    .selectAll('webhooks')
    .select('accounts.contact_email')
    .where('webhooks.state', '=', 'enabled')
    .where('webhooks.failing_since', 'is not', null)
    .execute();
  const rules = { disableAfterMs: context.settings.disableAfterMs, reminderEveryMs: context.settings.reminderEveryMs };
  for (const webhook of failing) {
    const action = decideFailureAction({ failingSince: webhook.failing_since, lastReminderAt: webhook.last_reminder_at }, rules, now);
    if (action === 'none') continue;
    // The update is conditional on the same failure run, so a delivery that succeeded meanwhile wins.
    const guard = db
      .updateTable('webhooks')
      .where('id', '=', webhook.id)
      .where('state', '=', 'enabled')
      .where('failing_since', '=', webhook.failing_since);
    if (action === 'disable') {
      const reason = `every delivery failed for ${Math.round((now - (webhook.failing_since ?? now)) / 1000)} s`;
      const changed = await guard.set({ state: 'disabled', disabled_reason: reason, updated_at: now }).executeTakeFirst();
      if (Number(changed.numUpdatedRows) === 0) continue;
      context.logger.warn({ webhookId: webhook.id }, `webhook ${webhook.id} disabled: ${reason}`);
      if (webhook.contact_email) await notifier.send(disabledMail(webhook.contact_email, webhook, reason));
      continue;
    }
    const changed = await guard.set({ last_reminder_at: now }).executeTakeFirst();
    if (Number(changed.numUpdatedRows) === 0 || !webhook.contact_email) continue;
    const last = await db
      .selectFrom('delivery_attempts')
      .select('error')
      .where('webhook_id', '=', webhook.id)
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    await notifier.send(
      failingMail(webhook.contact_email, webhook, last?.error ?? null, (webhook.failing_since ?? now) + rules.disableAfterMs),
    );
  }
}

/** Runs the chores every poll interval in one process of the cluster, one pass at a time (a slow pass delays the next one, never queues them). */
export function startHousekeeping(context: ProducerContext, notifier: Notifier): Repeating {
  return runEvery(context.settings.pollIntervalMs, async () => {
    try {
      // Once per cluster: the process holding the lead runs the chores; another takes the lead when it dies.
      if (!(await context.cluster.lead('housekeeping'))) return;
      await purgeExpiredEvents(context);
      await prepareLogPartitions(context);
      await remindOrDisableFailing(context, notifier);
    } catch (error) {
      context.logger.error(
        { err: error },
        'housekeeping (retention purge, log partitions, reminders) failed; it runs again at the next interval',
      );
    }
  });
}
