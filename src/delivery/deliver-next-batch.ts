// One step of one webhook: take (or build and persist) its batch in flight, send it, and record the answer.
import { randomBytes } from 'node:crypto';
import type { CatalogEvent } from '../catalog/index.ts';
import type { ProducerContext } from '../context.ts';
import { readEvents, toLogEvent } from '../platform/event-log.ts';
import { buildDelivery } from './build-delivery.ts';
import { type DeliveryMetrics, recordAttempt } from './delivery-metrics.ts';
import { disabledMail, type Notifier } from './notifier.ts';
import { planBatch } from './plan-batch.ts';
import { parseRetryAfter, retryDelay, retryPolicyOf } from './retry-policy.ts';
import type { DeliverySender } from './send-delivery.ts';
import type { WebhookRow } from './webhooks.ts';

export interface DeliveryDeps {
  context: ProducerContext;
  sender: DeliverySender;
  metrics: DeliveryMetrics;
  notifier: Notifier;
  /** This process's lease owner name. */
  owner: string;
}

/** `delivered`: a batch was acknowledged (or events were passed over) and there may be more; `waiting`: nothing to do now. */
export type StepOutcome = 'delivered' | 'waiting';

interface Batch {
  id: string;
  seqs: number[];
  firstSeq: number;
  lastSeq: number;
  deliveryFirst: number;
  deliveryLast: number;
  replay: boolean;
  attempts: number;
}

function batchOf(row: WebhookRow): Batch | null {
  if (row.batch_id === null || row.batch_seqs === null || row.batch_first_seq === null || row.batch_last_seq === null) return null;
  return {
    id: row.batch_id,
    seqs: JSON.parse(row.batch_seqs) as number[],
    firstSeq: row.batch_first_seq,
    lastSeq: row.batch_last_seq,
    deliveryFirst: row.batch_delivery_first ?? 0,
    deliveryLast: row.batch_delivery_last ?? 0,
    replay: row.batch_replay === 1,
    attempts: row.batch_attempts,
  };
}

export function newBatchId(): string {
  return `msg_${randomBytes(16).toString('base64url')}`;
}

async function readBatchEvents(deps: DeliveryDeps, accountId: number, seqs: readonly number[]): Promise<CatalogEvent[]> {
  if (seqs.length === 0) return [];
  const rows = await deps.context.database.db
    .selectFrom('events')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('seq', 'in', [...seqs])
    .orderBy('seq')
    .execute();
  return rows.map(toLogEvent);
}

/**
 * Builds the next batch and persists it before any attempt, so a crash re-sends the very same batch. Events
 * not chosen only move the cursor. A pending replay is served before new events.
 */
async function nextBatch(
  deps: DeliveryDeps,
  row: WebhookRow,
  head: number,
): Promise<{ batch: Batch; events: CatalogEvent[] } | 'moved' | 'none'> {
  const { db } = deps.context.database;
  const replaying = row.replay_cursor !== null && row.replay_until !== null;
  const from = replaying ? (row.replay_cursor ?? 0) : row.cursor;
  const until = replaying ? Math.min(row.replay_until ?? 0, head) : head;
  const chosen = await readEvents(db, row.account_id, {
    afterSeq: from,
    limit: deps.context.settings.batchMax,
    eventNames: JSON.parse(row.events) as string[],
  });
  const plan = planBatch(from, until, chosen, deps.context.settings.batchMax);
  const now = deps.context.now();
  if (!plan || plan.seqs.length === 0) {
    if (replaying) {
      await db
        .updateTable('webhooks')
        .set({ replay_cursor: null, replay_until: null })
        .where('id', '=', row.id)
        .where('lease_owner', '=', deps.owner)
        .execute();
      return 'moved';
    }
    if (!plan) return 'none';
    await db.updateTable('webhooks').set({ cursor: plan.lastSeq }).where('id', '=', row.id).where('lease_owner', '=', deps.owner).execute();
    return 'moved';
  }
  const events = chosen.filter((event) => plan.seqs.includes(event.seq));
  const batch: Batch = {
    id: newBatchId(),
    seqs: plan.seqs,
    firstSeq: plan.firstSeq,
    lastSeq: plan.lastSeq,
    deliveryFirst: row.delivery_seq + 1,
    deliveryLast: row.delivery_seq + plan.seqs.length,
    replay: replaying,
    attempts: 0,
  };
  const saved = await db
    .updateTable('webhooks')
    .set({
      batch_id: batch.id,
      batch_seqs: JSON.stringify(batch.seqs),
      batch_first_seq: batch.firstSeq,
      batch_last_seq: batch.lastSeq,
      batch_delivery_first: batch.deliveryFirst,
      batch_delivery_last: batch.deliveryLast,
      batch_replay: replaying ? 1 : 0,
      batch_attempts: 0,
      delivery_seq: batch.deliveryLast,
      lease_until: now + deps.context.settings.leaseMs,
    })
    .where('id', '=', row.id)
    .where('lease_owner', '=', deps.owner)
    .where('batch_id', 'is', null)
    .executeTakeFirst();
  if (Number(saved.numUpdatedRows) === 0) return 'none';
  return { batch, events };
}

/** Delivers the webhook's next batch once. The caller holds the webhook's lease. */
export async function deliverNextBatch(deps: DeliveryDeps, webhookId: string): Promise<StepOutcome> {
  const { context } = deps;
  const { db } = context.database;
  const row = await db
    .selectFrom('webhooks')
    .selectAll()
    .where('id', '=', webhookId)
    .where('lease_owner', '=', deps.owner)
    .executeTakeFirst();
  if (row?.state !== 'enabled') return 'waiting';
  if (row.next_attempt_at !== null && row.next_attempt_at > context.now()) return 'waiting';
  const account = await db
    .selectFrom('accounts')
    .select(['status', 'last_seq', 'contact_email'])
    .where('id', '=', row.account_id)
    .executeTakeFirst();
  // Events of accounts that are not ACTIVE wait, cursor unchanged, until the account is active again.
  if (account?.status !== 'ACTIVE') return 'waiting';

  let batch = batchOf(row);
  let events: CatalogEvent[];
  if (batch) {
    events = await readBatchEvents(deps, row.account_id, batch.seqs);
  } else {
    const next = await nextBatch(deps, row, account.last_seq);
    if (next === 'none') return 'waiting';
    if (next === 'moved') return 'delivered';
    batch = next.batch;
    events = next.events;
  }

  const startedAt = context.now();
  const result = await deps.sender.send(
    buildDelivery(
      row,
      { batchId: batch.id, events, deliveryRange: { first: batch.deliveryFirst, last: batch.deliveryLast }, replay: batch.replay },
      startedAt,
    ),
  );
  recordAttempt(deps.metrics, result, events.length);
  const now = context.now();
  const attempt = batch.attempts + 1;
  await db
    .insertInto('delivery_attempts')
    .values({
      webhook_id: row.id,
      batch_id: batch.id,
      kind: batch.replay ? 'replay' : 'delivery',
      first_seq: batch.firstSeq,
      last_seq: batch.lastSeq,
      delivery_first: batch.deliveryFirst,
      delivery_last: batch.deliveryLast,
      event_count: events.length,
      attempt,
      started_at: startedAt,
      duration_ms: result.durationMs,
      status_code: result.statusCode,
      outcome: result.acknowledged ? 'acknowledged' : 'failed',
      cause: result.cause,
      error: result.error,
    })
    .execute();

  const cleared = {
    batch_id: null,
    batch_seqs: null,
    batch_first_seq: null,
    batch_last_seq: null,
    batch_delivery_first: null,
    batch_delivery_last: null,
    batch_replay: 0,
    batch_attempts: 0,
  };
  // Only the batch this step sent is settled: retention may have dropped it meanwhile.
  const settle = db.updateTable('webhooks').where('id', '=', row.id).where('batch_id', '=', batch.id);
  if (result.acknowledged) {
    const replayDone = batch.replay && row.replay_until !== null && batch.lastSeq >= row.replay_until;
    const position = batch.replay
      ? replayDone
        ? { replay_cursor: null, replay_until: null }
        : { replay_cursor: batch.lastSeq }
      : { cursor: Math.max(row.cursor, batch.lastSeq) };
    await settle
      .set({
        ...cleared,
        ...position,
        next_attempt_at: null,
        failing_since: null,
        last_reminder_at: null,
        lease_until: now + context.settings.leaseMs,
      })
      .execute();
    return 'delivered';
  }
  if (result.statusCode === 410) {
    // Standard Webhooks: 410 Gone means the receiver wants no more deliveries.
    await settle
      .set({
        batch_attempts: attempt,
        state: 'disabled',
        disabled_reason: 'the target answered 410 Gone',
        failing_since: row.failing_since ?? now,
      })
      .execute();
    context.logger.warn({ webhookId: row.id }, `webhook ${row.id} disabled: its target answered 410 Gone`);
    if (account.contact_email) await deps.notifier.send(disabledMail(account.contact_email, row, 'its target answered 410 Gone'));
    return 'waiting';
  }
  const delay = retryDelay(retryPolicyOf(context.settings), { failures: attempt, retryAfterMs: parseRetryAfter(result.retryAfter, now) });
  await settle.set({ batch_attempts: attempt, next_attempt_at: now + delay, failing_since: row.failing_since ?? now }).execute();
  context.logger.info(
    { webhookId: row.id, batchId: batch.id, attempt, retryInMs: delay },
    `delivery to ${row.url} failed: ${result.error}`,
  );
  return 'waiting';
}
