// Delivers one leased webhook batch after batch while it has due work: plan and persist batches ahead, send them one at a time, record the answers.
import type { ProducerContext } from '../context.ts';
import { logHead } from '../platform/event-log.ts';
import type { GroupCommit } from '../store/group-commit.ts';
import type { ProducerSchema } from '../store/schema.ts';
import { type AttemptLog, exchangeColumns, type StagedAttempts } from './attempt-log.ts';
import { buildDelivery, openingOnce } from './build-delivery.ts';
import { type DeliveryMetrics, recordAttempt } from './delivery-metrics.ts';
import type { Notifier } from './notifier.ts';
import { type ReadAhead, readLoggedEvents } from './read-ahead.ts';
import { recordFailure } from './record-failure.ts';
import { mayRunAhead, shouldPlanMore } from './run-ahead.ts';
import type { DeliverySender } from './send-delivery.ts';
import { type LeasedWebhook, loadLeasedWebhook } from './webhook-lease.ts';
import { WebhookStream } from './webhook-stream.ts';

export interface DeliveryDeps {
  context: ProducerContext;
  sender: DeliverySender;
  metrics: DeliveryMetrics;
  notifier: Notifier;
  attempts: AttemptLog;
  /** Shared by the webhook loops of this process: their writes commit together, with the attempts they carry. */
  commits: GroupCommit<ProducerSchema, StagedAttempts>;
  /** The owner name this run's lease was claimed under: every write holds only while the webhook is still its. */
  owner: string;
}

/** How a run is told to end: `stopping()` between batches, `signal` at once (the lease was lost: abort, write nothing). */
export interface RunControl {
  stopping(): boolean;
  signal: AbortSignal;
}

/** How long a busy webhook's row is trusted from memory before it is read again. */
const reloadEveryMs = 250;

/**
 * Delivers the webhook's batches one request at a time until it has no due work, fails, or `run` says so, starting
 * from its row as the claim returned it.
 * The caller holds the webhook's lease (and renews it); when it is lost, the request in flight is aborted and the
 * loop ends without writing anything more for the webhook. Batches are planned ahead and persisted before they are sent, so after a
 * crash every batch that may have been sent is sent again with its old id and events; acknowledgements are recorded
 * in the background, at most `runAheadLimit` behind, so a crash re-sends at most that many acknowledged batches
 * (receivers dedupe them by id: at least once, never skipped).
 */
export async function deliverWebhook(deps: DeliveryDeps, claimed: LeasedWebhook, run: RunControl): Promise<void> {
  const { context } = deps;
  const webhookId = claimed.id;
  let row = claimed;
  if (row.state !== 'enabled' || row.account_status !== 'ACTIVE') return;
  if (row.next_attempt_at !== null && row.next_attempt_at > context.now()) return;
  const stream = new WebhookStream(deps, webhookId, row);
  const secrets = openingOnce(context.secrets);
  // While batches flow the row is kept in memory (this loop writes its delivery columns and holds the lease) and
  // read again every `reloadEveryMs`, so changes by the API or another process arrive within that time.
  let loadedAt = performance.now();
  let fresh = true;
  const ahead: { current: ReadAhead | null } = { current: null };
  try {
    while (!run.stopping() && stream.stopped === null) {
      if (!fresh && performance.now() - loadedAt >= reloadEveryMs) {
        const settled = stream.idle ? stream.writes : -1;
        const reloaded: LeasedWebhook | undefined = await loadLeasedWebhook(context, deps.owner, webhookId);
        if (!reloaded) break;
        // A changed filter or a new replay applies to the batches not sent yet. The row's replay columns are only
        // news when no write of this loop could have raced the read.
        const replayRequested = !stream.replaying && reloaded.replay_until !== null && settled === stream.writes && stream.idle;
        const replanned = reloaded.events !== row.events || replayRequested;
        if (replanned) {
          stream.dropUnsent();
          // Read again with the new filter or from the replay's start. Otherwise the events read ahead stay good: the
          // log only grows, and what retention takes changes the row, so the next write of this loop stops it before
          // anything planned from them is sent.
          ahead.current = null;
        }
        if (replayRequested) {
          stream.replayCursor = reloaded.replay_cursor;
          stream.replayUntil = reloaded.replay_until;
        }
        row = reloaded;
        loadedAt = performance.now();
        fresh = true;
      }
      if (row.state !== 'enabled' || row.account_status !== 'ACTIVE') break;

      const unsent = stream.queue.filter((queued) => queued.droppable).map((queued) => ({ eventCount: queued.batch.seqs.length }));
      // Planned in chunks, so the write that persists them happens every few batches and while earlier ones are sent.
      if (shouldPlanMore(unsent, stream.queue.length)) {
        const moved = await stream.planMore(row, ahead);
        if (moved && stream.queue.length === 0) continue;
      }
      const next = stream.queue[0];
      if (!next) {
        // A head held in memory may be stale: look again before deciding there is nothing to do. Only the head: the
        // rest of the row is read again on its schedule, and a caught-up stream looks after almost every batch.
        if (fresh) break;
        const head = await logHead(context.database.db, row.account_id);
        if (head === undefined || head <= row.account_head) break;
        row = { ...row, account_head: head };
        fresh = true;
        continue;
      }
      // Sent only once the database holds it, and never too far ahead of the recorded acknowledgements.
      while (stream.stopped === null && (!next.durable || !mayRunAhead(stream.unrecorded))) await stream.flush();
      if (stream.stopped !== null) break;

      const { batch } = next;
      const events = next.events ?? (await readLoggedEvents(context, row.account_id, batch.seqs));
      next.droppable = false;
      fresh = false;
      const startedAt = context.now();
      const delivery = {
        batchId: batch.id,
        events,
        deliveryRange: { first: batch.deliveryFirst, last: batch.deliveryLast },
        replay: batch.replay,
      };
      const request = buildDelivery(row, delivery, startedAt, secrets);
      const result = await deps.sender.send(request, run.signal);
      // The lease was lost during the send (it was aborted): the webhook is another process's now.
      if (run.signal.aborted) break;
      recordAttempt(deps.metrics, result, events.length);
      const now = context.now();
      const attempt = batch.attempts + 1;
      deps.attempts.add({
        account_id: row.account_id,
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
        ...exchangeColumns(
          request,
          result,
          events.map((event) => event.seq),
        ),
      });
      if (result.acknowledged) {
        stream.acknowledge();
        continue;
      }
      if (result.statusCode === 413 && batch.seqs.length > 1) {
        // Too large for the receiver: its events go again at once, as two smaller batches (a single event refused
        // as too large follows the retry policy like any failure).
        stream.splitInFlight(events);
        context.logger.info(
          { webhookId: row.id, batchId: batch.id, events: events.length },
          `the target of webhook ${row.id} refused a batch of ${events.length} events as too large (413); it is sent again split in two`,
        );
        continue;
      }
      // Everything acknowledged before is recorded first, so the failed batch is the one in flight in the row; the
      // batches planned after it are given back, so a filter changed while it fails applies to them.
      stream.dropUnsent();
      await stream.flush();
      await deps.attempts.flush(webhookId);
      if (stream.stopped !== null) break;
      await recordFailure(deps, row, { batch, attempt, result, now, failingSince: stream.acknowledged ? now : (row.failing_since ?? now) });
      break;
    }
  } finally {
    if (run.signal.aborted) stream.stopped ??= 'its lease was lost';
    // What was planned and never sent is given back: whoever delivers next plans it with the settings of then.
    if (stream.stopped === null) stream.dropUnsent();
    await stream.flush();
    // The attempts no write of the row took along (a stopped stream writes nothing more).
    await deps.attempts.flush(webhookId);
  }
  if (stream.stopped instanceof Error) throw stream.stopped;
  if (stream.stopped !== null) context.logger.info({ webhookId }, `delivery to webhook ${webhookId} paused: ${String(stream.stopped)}`);
}
