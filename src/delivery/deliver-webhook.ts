// Delivers one leased webhook batch after batch while it has due work: build and persist a batch, send it, record the answer.
import { randomBytes } from 'node:crypto';
import type { Updateable } from 'kysely';
import type { CatalogEvent } from '../catalog/index.ts';
import type { ProducerContext } from '../context.ts';
import { type LogEvent, readEvents, toLogEvent } from '../platform/event-log.ts';
import type { WebhooksTable } from '../store/schema.ts';
import type { AttemptLog } from './attempt-log.ts';
import { buildDelivery } from './build-delivery.ts';
import { type DeliveryMetrics, recordAttempt } from './delivery-metrics.ts';
import type { GroupCommit } from './group-commit.ts';
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
  attempts: AttemptLog;
  /** Shared by the webhook loops of this process: their batch writes commit together. */
  commits: GroupCommit;
  /** This process's lease owner name. */
  owner: string;
}

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

/** How long a busy webhook's row is trusted from memory before it is read again. */
const reloadEveryMs = 250;

/**
 * Chosen events read ahead of the cursor, so a stream of small batches does not pay one query per batch. It holds
 * every chosen event in (`after`, `coveredTo`] and is dropped whenever the row is read again (filter, replay or
 * retention may have changed), so it is never older than `reloadEveryMs`.
 */
interface ReadAhead {
  after: number;
  coveredTo: number;
  events: LogEvent[];
}

/** How many chosen events one read fetches: about ten batches, within [100, 1000] and never less than one batch. */
function readAheadLimit(batchMax: number): number {
  return Math.max(batchMax, Math.min(1000, Math.max(100, batchMax * 10)));
}

type LeasedWebhook = WebhookRow & { account_status: string; account_head: number; contact_email: string | null };

/** Random bytes drawn 4 KiB at a time: one system call per 256 batch ids rather than one per batch. */
let entropy = Buffer.alloc(0);
let entropyUsed = 0;

export function newBatchId(): string {
  if (entropyUsed + 16 > entropy.length) {
    entropy = randomBytes(4096);
    entropyUsed = 0;
  }
  entropyUsed += 16;
  return `msg_${entropy.toString('base64url', entropyUsed - 16, entropyUsed)}`;
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

const noBatch = {
  batch_id: null,
  batch_seqs: null,
  batch_first_seq: null,
  batch_last_seq: null,
  batch_delivery_first: null,
  batch_delivery_last: null,
  batch_replay: 0,
  batch_attempts: 0,
} as const;

/** The columns that persist a new batch in flight (and the delivery numbers it takes). */
function batchColumns(batch: Batch) {
  return {
    batch_id: batch.id,
    batch_seqs: JSON.stringify(batch.seqs),
    batch_first_seq: batch.firstSeq,
    batch_last_seq: batch.lastSeq,
    batch_delivery_first: batch.deliveryFirst,
    batch_delivery_last: batch.deliveryLast,
    batch_replay: batch.replay ? 1 : 0,
    batch_attempts: 0,
    delivery_seq: batch.deliveryLast,
  };
}

/** The columns that record an acknowledged batch: the cursor (or replay cursor) passes it and the failure run ends. */
function acknowledgement(row: WebhookRow, batch: Batch): Updateable<WebhooksTable> {
  const position = batch.replay
    ? row.replay_until !== null && batch.lastSeq < row.replay_until
      ? { replay_cursor: batch.lastSeq }
      : { replay_cursor: null, replay_until: null }
    : { cursor: Math.max(row.cursor, batch.lastSeq) };
  return { ...noBatch, ...position, next_attempt_at: null, failing_since: null, last_reminder_at: null };
}

/** The row as it is once the acknowledgement is recorded. */
function acknowledged(row: LeasedWebhook, batch: Batch): LeasedWebhook {
  return { ...row, ...(acknowledgement(row, batch) as Partial<LeasedWebhook>) };
}

async function loadLeased(deps: DeliveryDeps, webhookId: string): Promise<LeasedWebhook | undefined> {
  return deps.context.database.db
    .selectFrom('webhooks')
    .innerJoin('accounts', 'accounts.id', 'webhooks.account_id')
    .selectAll('webhooks')
    .select(['accounts.status as account_status', 'accounts.last_seq as account_head', 'accounts.contact_email'])
    .where('webhooks.id', '=', webhookId)
    .where('webhooks.lease_owner', '=', deps.owner)
    .executeTakeFirst();
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
 * Plans the next batch after the cursor (a pending replay first) and persists it before any attempt, so a crash
 * re-sends the very same batch. The update also records `settled`, a batch acknowledged just before, so a
 * steady stream costs one write per batch. Events not chosen only move the cursor.
 */
/**
 * The chosen events after `from` that a batch ending at most at `until` can take: from the read-ahead when it covers
 * them (a full batch, or everything up to `until`), else read again. Events up to the account head seen before a
 * read are all committed (the head moves in their transaction), so a short read covers up to `until`.
 */
async function chosenAfter(deps: DeliveryDeps, row: LeasedWebhook, from: number, until: number, ahead: { current: ReadAhead | null }) {
  const { batchMax } = deps.context.settings;
  const held = ahead.current;
  if (held && held.after <= from && from <= held.coveredTo) {
    const events = held.events.filter((event) => event.seq > from);
    if (events.length >= batchMax || until <= held.coveredTo) return events;
  }
  const limit = readAheadLimit(batchMax);
  const events = await readEvents(deps.context.database.db, row.account_id, {
    afterSeq: from,
    limit,
    eventNames: JSON.parse(row.events) as string[],
  });
  const last = events[events.length - 1];
  const coveredTo = events.length === limit && last ? last.seq : until;
  // Events appended after the head was seen may be missing between the ones returned: only keep the complete range.
  ahead.current = { after: from, coveredTo, events: events.filter((event) => event.seq <= coveredTo) };
  return ahead.current.events;
}

async function startNextBatch(
  deps: DeliveryDeps,
  row: LeasedWebhook,
  settled: { batch: Batch; columns: Updateable<WebhooksTable> } | null,
  ahead: { current: ReadAhead | null },
): Promise<{ batch: Batch; events: CatalogEvent[] } | 'moved' | 'none'> {
  const replaying = row.replay_cursor !== null && row.replay_until !== null;
  const from = replaying ? (row.replay_cursor ?? 0) : row.cursor;
  const until = replaying ? Math.min(row.replay_until ?? 0, row.account_head) : row.account_head;
  const chosen = await chosenAfter(deps, row, from, until, ahead);
  const plan = planBatch(from, until, chosen, deps.context.settings.batchMax);
  const update = (columns: Updateable<WebhooksTable>) =>
    deps.commits.run((trx) =>
      trx
        .updateTable('webhooks')
        .set(columns)
        .where('id', '=', row.id)
        .where('lease_owner', '=', deps.owner)
        .where('batch_id', settled ? '=' : 'is', settled ? settled.batch.id : null)
        .executeTakeFirst(),
    );
  if (!plan || plan.seqs.length === 0) {
    let columns: Updateable<WebhooksTable> | null = settled?.columns ?? null;
    if (replaying) columns = { ...columns, replay_cursor: null, replay_until: null };
    else if (plan) columns = { ...columns, cursor: plan.lastSeq };
    // The stream has caught up: its attempts are logged before the cursor shows them delivered.
    if (settled) await deps.attempts.flush();
    if (columns) await update(columns);
    return plan || replaying ? 'moved' : 'none';
  }
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
  const saved = await update({
    ...settled?.columns,
    ...batchColumns(batch),
    lease_until: deps.context.now() + deps.context.settings.leaseMs,
  });
  if (Number(saved.numUpdatedRows) === 0) return 'none';
  const wanted = new Set(plan.seqs);
  return { batch, events: chosen.filter((event) => wanted.has(event.seq)) };
}

/**
 * Delivers the webhook's batches one request at a time until it has no due work, fails, or `stopping()` says so.
 * The caller holds the webhook's lease. An acknowledgement is recorded together with the next batch; a crash in
 * between re-sends the acknowledged batch with its old id, which receivers dedupe (at least once, never skipped).
 */
export async function deliverWebhook(deps: DeliveryDeps, webhookId: string, stopping: () => boolean): Promise<void> {
  const { context } = deps;
  const { db } = context.database;
  let settled: { batch: Batch; columns: Updateable<WebhooksTable> } | null = null;
  // While batches flow, the row is kept in memory between batches (this loop writes its delivery columns and holds
  // the lease) and read again every `reloadEveryMs`, so changes by the API or another process arrive within that time.
  let cached: { row: LeasedWebhook; at: number } | null = null;
  const ahead: { current: ReadAhead | null } = { current: null };
  try {
    while (!stopping()) {
      const fromCache: boolean = cached !== null && settled !== null && performance.now() - cached.at < reloadEveryMs;
      const loaded: LeasedWebhook | undefined = fromCache && cached ? cached.row : await loadLeased(deps, webhookId);
      if (!fromCache) {
        cached = loaded ? { row: loaded, at: performance.now() } : null;
        ahead.current = null;
      }
      // Only the batch this loop sent is settled: retention may have dropped it meanwhile.
      if (settled && loaded?.batch_id !== settled.batch.id) settled = null;
      if (loaded?.state !== 'enabled' || loaded.account_status !== 'ACTIVE') break;
      const row: LeasedWebhook = settled ? acknowledged(loaded, settled.batch) : loaded;
      if (!settled && row.next_attempt_at !== null && row.next_attempt_at > context.now()) break;

      let batch: Batch | null = settled ? null : batchOf(row);
      let events: CatalogEvent[];
      if (batch) {
        events = await readBatchEvents(deps, row.account_id, batch.seqs);
      } else {
        const next = await startNextBatch(deps, row, settled, ahead);
        settled = null;
        if (next !== 'none' && next !== 'moved') {
          batch = next.batch;
          events = next.events;
          if (cached) cached.row = { ...row, ...batchColumns(batch) };
        } else {
          // A cached head may be stale: look again before deciding there is nothing to do.
          const stale = fromCache;
          cached = null;
          if (next === 'none' && !stale) break;
          continue;
        }
      }

      const startedAt = context.now();
      const delivery = {
        batchId: batch.id,
        events,
        deliveryRange: { first: batch.deliveryFirst, last: batch.deliveryLast },
        replay: batch.replay,
      };
      const result = await deps.sender.send(buildDelivery(row, delivery, startedAt));
      recordAttempt(deps.metrics, result, events.length);
      const now = context.now();
      const attempt = batch.attempts + 1;
      await deps.attempts.add({
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
      });
      if (result.acknowledged) {
        settled = { batch, columns: acknowledgement(row, batch) };
        continue;
      }
      await deps.attempts.flush();
      const failed = db.updateTable('webhooks').where('id', '=', row.id).where('batch_id', '=', batch.id);
      if (result.statusCode === 410) {
        // Standard Webhooks: 410 Gone means the receiver wants no more deliveries.
        const reason = 'the target answered 410 Gone';
        await failed
          .set({
            batch_attempts: attempt,
            state: 'disabled',
            disabled_reason: reason,
            failing_since: row.failing_since ?? now,
            updated_at: now,
          })
          .execute();
        context.logger.warn({ webhookId: row.id }, `webhook ${row.id} disabled: ${reason}`);
        if (row.contact_email) await deps.notifier.send(disabledMail(row.contact_email, row, reason));
        break;
      }
      const delay = retryDelay(retryPolicyOf(context.settings), {
        failures: attempt,
        retryAfterMs: parseRetryAfter(result.retryAfter, now),
      });
      await failed.set({ batch_attempts: attempt, next_attempt_at: now + delay, failing_since: row.failing_since ?? now }).execute();
      context.logger.info(
        { webhookId: row.id, batchId: batch.id, attempt, retryInMs: delay },
        `delivery to ${row.url} failed: ${result.error}`,
      );
      break;
    }
  } finally {
    await deps.attempts.flush();
    const last = settled;
    if (last)
      await db.updateTable('webhooks').set(last.columns).where('id', '=', webhookId).where('batch_id', '=', last.batch.id).execute();
  }
}
