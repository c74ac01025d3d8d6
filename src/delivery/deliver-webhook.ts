// Delivers one leased webhook batch after batch while it has due work: plan and persist batches ahead, send them one at a time, record the answers.
import type { Updateable } from 'kysely';
import type { CatalogEvent } from '../catalog/index.ts';
import type { ProducerContext } from '../context.ts';
import { type LogEvent, readEvents, toLogEvent } from '../platform/event-log.ts';
import type { WebhooksTable } from '../store/schema.ts';
import { noBatchInFlight, type WebhookRow } from '../webhooks/webhooks.ts';
import type { AttemptLog } from './attempt-log.ts';
import { batchId } from './batch-id.ts';
import { buildDelivery } from './build-delivery.ts';
import { type DeliveryMetrics, recordAttempt } from './delivery-metrics.ts';
import type { GroupCommit } from './group-commit.ts';
import { disabledMail, type Notifier } from './notifier.ts';
import { planBatches } from './plan-batch.ts';
import { parseRetryAfter, retryDelay, retryPolicyOf } from './retry-policy.ts';
import { mayRunAhead, planAheadLimit, shouldRecord } from './run-ahead.ts';
import type { DeliverySender } from './send-delivery.ts';

export interface DeliveryDeps {
  context: ProducerContext;
  sender: DeliverySender;
  metrics: DeliveryMetrics;
  notifier: Notifier;
  attempts: AttemptLog;
  /** Shared by the webhook loops of this process: their writes commit together. */
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

/** A batch waiting to be sent. */
interface Queued {
  batch: Batch;
  /** Its events when planned here; null for a batch read back from the database (they are read when it is sent). */
  events: CatalogEvent[] | null;
  /** Whether the database holds it: only then may it be sent, so a crash re-sends it with the same id. */
  durable: boolean;
  /** Planned by this loop and never sent, so it may be planned again differently (a filter change, a replay). */
  droppable: boolean;
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

/** How a planned batch is kept in `batch_plan`. */
type PlannedBatch = Omit<Batch, 'attempts'>;

/** The batch in flight and the batches planned after it, as the row holds them. */
function queueOf(row: WebhookRow): Queued[] {
  if (row.batch_id === null || row.batch_seqs === null || row.batch_first_seq === null || row.batch_last_seq === null) return [];
  const inFlight: Batch = {
    id: row.batch_id,
    seqs: JSON.parse(row.batch_seqs) as number[],
    firstSeq: row.batch_first_seq,
    lastSeq: row.batch_last_seq,
    deliveryFirst: row.batch_delivery_first ?? 0,
    deliveryLast: row.batch_delivery_last ?? 0,
    replay: row.batch_replay === 1,
    attempts: row.batch_attempts,
  };
  const planned = row.batch_plan === null ? [] : (JSON.parse(row.batch_plan) as PlannedBatch[]);
  return [inFlight, ...planned.map((batch) => ({ ...batch, attempts: 0 }))].map((batch) => ({
    batch,
    events: null,
    durable: true,
    droppable: false,
  }));
}

/** The columns of the batch in flight and the plan after it. */
function queueColumns(queue: readonly Queued[]) {
  const [first, ...rest] = queue;
  if (!first) return noBatchInFlight;
  const batch = first.batch;
  return {
    batch_id: batch.id,
    batch_seqs: JSON.stringify(batch.seqs),
    batch_first_seq: batch.firstSeq,
    batch_last_seq: batch.lastSeq,
    batch_delivery_first: batch.deliveryFirst,
    batch_delivery_last: batch.deliveryLast,
    batch_replay: batch.replay ? 1 : 0,
    batch_attempts: batch.attempts,
    batch_plan: rest.length > 0 ? JSON.stringify(rest.map(({ batch: { attempts: _, ...planned } }) => planned)) : null,
  };
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
 * The chosen events after `from` that batches ending at most at `until` can take, and how far they are complete:
 * from the read-ahead when it covers them (a full batch, or everything up to `until`), else read again. Events up to
 * the account head seen before a read are all committed (the head moves in their transaction), so a short read
 * covers up to `until`.
 */
async function chosenAfter(deps: DeliveryDeps, row: LeasedWebhook, from: number, until: number, ahead: { current: ReadAhead | null }) {
  const { batchMax } = deps.context.settings;
  const held = ahead.current;
  if (held && held.after <= from && from <= held.coveredTo) {
    const events = held.events.filter((event) => event.seq > from);
    if (events.length >= batchMax || until <= held.coveredTo) return { events, coveredTo: Math.min(until, held.coveredTo) };
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
  return { events: ahead.current.events, coveredTo: Math.min(until, coveredTo) };
}

/**
 * One webhook's delivery state while its loop runs: the acknowledged position, the queue of planned batches, and
 * the writer that records both. Every write carries the whole state (later acknowledgements overwrite earlier ones),
 * one write at a time per webhook, through the shared group commit. A write only applies while the row still
 * holds what this stream last wrote; anything else (retention, another process) stops the stream.
 */
class Stream {
  cursor: number;
  /** The last delivery sequence number given out (to the last planned batch). */
  deliverySeq: number;
  replayCursor: number | null;
  replayUntil: number | null;
  queue: Queued[];
  /** Acknowledged batches whose acknowledgement is not yet durable: a crash now re-sends them (old ids). */
  unrecorded: { eventCount: number }[] = [];
  /** Whether a batch was acknowledged here (the failure run is then over). */
  acknowledged = false;
  /** Whether the replay position moved since the last write (only then does a write carry it). */
  replayMoved = false;
  /** Writes committed so far. */
  writes = 0;
  /** Set when a write found the row changed under it, or failed. */
  stopped: unknown = null;
  #expected: { batchId: string | null; deliverySeq: number };
  #dirty = false;
  #writing: Promise<void> | null = null;

  constructor(
    private readonly deps: DeliveryDeps,
    private readonly webhookId: string,
    row: WebhookRow,
  ) {
    this.cursor = row.cursor;
    this.deliverySeq = row.delivery_seq;
    this.replayCursor = row.replay_cursor;
    this.replayUntil = row.replay_until;
    this.queue = queueOf(row);
    this.#expected = { batchId: row.batch_id, deliverySeq: row.delivery_seq };
  }

  get replaying(): boolean {
    return this.replayCursor !== null && this.replayUntil !== null;
  }

  /** Records the acknowledgement of the first queued batch (in memory; written soon). */
  acknowledge(): void {
    const done = this.queue.shift();
    if (!done) return;
    const { batch } = done;
    if (batch.replay) {
      this.replayMoved = true;
      if (this.replayUntil !== null && batch.lastSeq < this.replayUntil) this.replayCursor = batch.lastSeq;
      else this.replayCursor = this.replayUntil = null;
    } else this.cursor = Math.max(this.cursor, batch.lastSeq);
    this.acknowledged = true;
    this.unrecorded.push({ eventCount: batch.seqs.length });
    // Acknowledgements ride along with the writes that extend the plan; alone, they wait until half the run-ahead
    // is used (or the stream catches up), so a fast stream costs a write every few batches, not one per batch.
    if (this.queue.length === 0 || shouldRecord(this.unrecorded)) this.write();
  }

  /** Forgets the batches planned here and never sent, giving their delivery numbers back. */
  dropUnsent(): void {
    const kept = this.queue.filter((queued) => !queued.droppable);
    if (kept.length === this.queue.length) return;
    const firstDropped = this.queue[kept.length];
    this.queue = kept;
    if (firstDropped) this.deliverySeq = firstDropped.batch.deliveryFirst - 1;
    this.write();
  }

  /** Whether nothing is being written or waiting to be. */
  get idle(): boolean {
    return this.#writing === null && !this.#dirty;
  }

  /** Asks for the current state to be written; returns at once. */
  write(): void {
    this.#dirty = true;
    if (!this.#writing) this.#writing = this.#writeWhileDirty();
  }

  /** Writes what the database does not hold yet (acknowledgements, planned batches) and waits for it, or for a stop. */
  async flush(): Promise<void> {
    if (this.unrecorded.length > 0 || this.queue.some((queued) => !queued.durable)) this.write();
    while (this.#writing) await this.#writing;
  }

  async #writeWhileDirty(): Promise<void> {
    try {
      while (this.#dirty && this.stopped === null) {
        this.#dirty = false;
        await this.#writeOnce();
      }
    } finally {
      this.#writing = null;
    }
  }

  async #writeOnce(): Promise<void> {
    const { context, owner } = this.deps;
    const written = [...this.queue];
    const recorded = this.unrecorded.length;
    const deliverySeq = this.deliverySeq;
    const columns: Updateable<WebhooksTable> = {
      cursor: this.cursor,
      delivery_seq: deliverySeq,
      ...queueColumns(written),
      ...(this.acknowledged ? { next_attempt_at: null, failing_since: null, last_reminder_at: null } : {}),
      ...(this.replayMoved ? { replay_cursor: this.replayCursor, replay_until: this.replayUntil } : {}),
      lease_until: context.now() + context.settings.leaseMs,
    };
    const expected = this.#expected;
    this.replayMoved = false;
    try {
      const result = await this.deps.commits.run((trx) =>
        trx
          .updateTable('webhooks')
          .set(columns)
          .where('id', '=', this.webhookId)
          .where('lease_owner', '=', owner)
          .where('batch_id', expected.batchId === null ? 'is' : '=', expected.batchId)
          .where('delivery_seq', '=', expected.deliverySeq)
          .executeTakeFirst(),
      );
      if (Number(result.numUpdatedRows) === 0) {
        this.stopped = 'the webhook row changed under its delivery loop (retention, or its lease was lost)';
        return;
      }
    } catch (error) {
      this.stopped = error;
      return;
    }
    this.writes++;
    this.#expected = { batchId: written[0]?.batch.id ?? null, deliverySeq };
    for (const queued of written) queued.durable = true;
    this.unrecorded.splice(0, recorded);
  }

  /**
   * Plans more batches after the last queued one (replay batches first) and asks for them to be written. Returns
   * whether anything moved: batches were planned, or the position passed events that were not chosen.
   */
  async planMore(row: LeasedWebhook, ahead: { current: ReadAhead | null }): Promise<boolean> {
    const last = this.queue[this.queue.length - 1]?.batch;
    // New events wait behind a replay: plan a replay only once the batches queued before it are sent.
    if (this.replaying && last && !last.replay) return false;
    const replaying = last ? last.replay : this.replaying;
    const from = last ? last.lastSeq : replaying ? (this.replayCursor ?? 0) : this.cursor;
    const until = replaying ? Math.min(this.replayUntil ?? 0, row.account_head) : row.account_head;
    if (until <= from) return false;
    const { settings } = this.deps.context;
    const chosen = await chosenAfter(this.deps, row, from, until, ahead);
    // The row never holds more than twice the plan-ahead limit of batches (the caller plans only below it).
    const batches = Math.min(planAheadLimit.batches, 2 * planAheadLimit.batches - this.queue.length);
    const { plans, to } = planBatches(from, chosen.coveredTo, chosen.events, settings.batchMax, { ...planAheadLimit, batches });
    if (plans.length === 0) {
      // Nothing chosen up to `to`: the position just moves, once nothing is queued before it.
      if (this.queue.length > 0 || to <= from) return false;
      if (replaying && to >= (this.replayUntil ?? 0)) {
        this.replayCursor = this.replayUntil = null;
        this.replayMoved = true;
      } else if (replaying) {
        this.replayCursor = to;
        this.replayMoved = true;
      } else this.cursor = to;
      this.write();
      return true;
    }
    const byId = new Map(chosen.events.map((event) => [event.seq, event]));
    for (const plan of plans) {
      const events = plan.seqs.map((seq) => byId.get(seq)).filter((event) => event !== undefined);
      const deliveryFirst = this.deliverySeq + 1;
      this.deliverySeq += plan.seqs.length;
      const id = batchId(this.webhookId, { deliveryFirst, replay: replaying, eventIds: events.map((event) => event.eventId) });
      this.queue.push({
        batch: { id, ...plan, deliveryFirst, deliveryLast: this.deliverySeq, replay: replaying, attempts: 0 },
        events,
        durable: false,
        droppable: true,
      });
    }
    this.write();
    return true;
  }
}

/**
 * Delivers the webhook's batches one request at a time until it has no due work, fails, or `stopping()` says so.
 * The caller holds the webhook's lease. Batches are planned ahead and persisted before they are sent, so after a
 * crash every batch that may have been sent is sent again with its old id and events; acknowledgements are recorded
 * in the background, at most `runAheadLimit` behind, so a crash re-sends at most that many acknowledged batches
 * (receivers dedupe them by id: at least once, never skipped).
 */
export async function deliverWebhook(deps: DeliveryDeps, webhookId: string, stopping: () => boolean): Promise<void> {
  const { context } = deps;
  const { db } = context.database;
  let row = await loadLeased(deps, webhookId);
  if (row?.state !== 'enabled' || row.account_status !== 'ACTIVE') return;
  if (row.next_attempt_at !== null && row.next_attempt_at > context.now()) return;
  const stream = new Stream(deps, webhookId, row);
  // While batches flow the row is kept in memory (this loop writes its delivery columns and holds the lease) and
  // read again every `reloadEveryMs`, so changes by the API or another process arrive within that time.
  let loadedAt = performance.now();
  let fresh = true;
  const ahead: { current: ReadAhead | null } = { current: null };
  try {
    while (!stopping() && stream.stopped === null) {
      if (!fresh && performance.now() - loadedAt >= reloadEveryMs) {
        const settled = stream.idle ? stream.writes : -1;
        const reloaded: LeasedWebhook | undefined = await loadLeased(deps, webhookId);
        if (!reloaded) break;
        // A changed filter or a new replay applies to the batches not sent yet. The row's replay columns are only
        // news when no write of this loop could have raced the read.
        const replayRequested = !stream.replaying && reloaded.replay_until !== null && settled === stream.writes && stream.idle;
        if (reloaded.events !== row.events || replayRequested) stream.dropUnsent();
        if (replayRequested) {
          stream.replayCursor = reloaded.replay_cursor;
          stream.replayUntil = reloaded.replay_until;
        }
        row = reloaded;
        loadedAt = performance.now();
        fresh = true;
        ahead.current = null;
      }
      if (row.state !== 'enabled' || row.account_status !== 'ACTIVE') break;

      const unsent = stream.queue.filter((queued) => queued.droppable).length;
      // Planned in chunks, so the write that persists them happens every few batches and while earlier ones are sent.
      if (unsent <= planAheadLimit.batches / 2 && stream.queue.length < 2 * planAheadLimit.batches) {
        const moved = await stream.planMore(row, ahead);
        if (moved && stream.queue.length === 0) continue;
      }
      const next = stream.queue[0];
      if (!next) {
        // A head held in memory may be stale: look again before deciding there is nothing to do.
        if (fresh) break;
        loadedAt = Number.NEGATIVE_INFINITY;
        fresh = false;
        continue;
      }
      // Sent only once the database holds it, and never too far ahead of the recorded acknowledgements.
      while (stream.stopped === null && (!next.durable || !mayRunAhead(stream.unrecorded))) await stream.flush();
      if (stream.stopped !== null) break;

      const { batch } = next;
      const events = next.events ?? (await readBatchEvents(deps, row.account_id, batch.seqs));
      next.droppable = false;
      fresh = false;
      const startedAt = context.now();
      const delivery = {
        batchId: batch.id,
        events,
        deliveryRange: { first: batch.deliveryFirst, last: batch.deliveryLast },
        replay: batch.replay,
      };
      const result = await deps.sender.send(buildDelivery(row, delivery, startedAt, context.secrets));
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
        response_body: result.responseBody,
      });
      if (result.acknowledged) {
        // A stream that has caught up logs its attempts before its cursor shows them delivered.
        if (stream.queue.length === 1) await deps.attempts.flush();
        stream.acknowledge();
        continue;
      }
      await deps.attempts.flush();
      // Everything acknowledged before is recorded first, so the failed batch is the one in flight in the row; the
      // batches planned after it are given back, so a filter changed while it fails applies to them.
      stream.dropUnsent();
      await stream.flush();
      if (stream.stopped !== null) break;
      const failingSince = stream.acknowledged ? now : (row.failing_since ?? now);
      const failed = db.updateTable('webhooks').where('id', '=', row.id).where('batch_id', '=', batch.id);
      if (result.statusCode === 410) {
        // Standard Webhooks: 410 Gone means the receiver wants no more deliveries.
        const reason = 'the target answered 410 Gone';
        await failed
          .set({ batch_attempts: attempt, state: 'disabled', disabled_reason: reason, failing_since: failingSince, updated_at: now })
          .execute();
        context.logger.warn({ webhookId: row.id }, `webhook ${row.id} disabled: ${reason}`);
        if (row.contact_email) await deps.notifier.send(disabledMail(row.contact_email, row, reason));
        break;
      }
      const delay = retryDelay(retryPolicyOf(context.settings), {
        failures: attempt,
        retryAfterMs: parseRetryAfter(result.retryAfter, now),
      });
      await failed.set({ batch_attempts: attempt, next_attempt_at: now + delay, failing_since: failingSince }).execute();
      context.logger.info(
        { webhookId: row.id, batchId: batch.id, attempt, retryInMs: delay },
        `delivery to ${row.url} failed: ${result.error}`,
      );
      break;
    }
  } finally {
    await deps.attempts.flush();
    // What was planned and never sent is given back: whoever delivers next plans it with the settings of then.
    if (stream.stopped === null) stream.dropUnsent();
    await stream.flush();
  }
  if (stream.stopped instanceof Error) throw stream.stopped;
  if (stream.stopped !== null) context.logger.info({ webhookId }, `delivery to webhook ${webhookId} paused: ${String(stream.stopped)}`);
}
