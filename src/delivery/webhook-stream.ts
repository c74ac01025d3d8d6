// One webhook's stream of batches while its delivery loop runs: the acknowledged position, the planned batches, and the writes that persist both.
import type { Updateable } from 'kysely';
import type { ProducerContext } from '../context.ts';
import type { GroupCommit } from '../store/group-commit.ts';
import type { ProducerSchema, WebhooksTable } from '../store/schema.ts';
import type { WebhookRow } from '../webhooks/webhooks.ts';
import type { AttemptLog, StagedAttempts } from './attempt-log.ts';
import { batchId } from './batch-id.ts';
import { type QueuedBatch, queueColumns, queueOf } from './batch-queue.ts';
import { type BatchEvent, envelopeBytes } from './build-delivery.ts';
import { planBatches } from './plan-batch.ts';
import { chosenAfter, type ReadAhead } from './read-ahead.ts';
import { planAheadLimit, shouldRecord } from './run-ahead.ts';
import { splitBatch } from './split-batch.ts';
import { type LeasedWebhook, updateLeasedWebhook } from './webhook-lease.ts';

export interface StreamDeps {
  context: ProducerContext;
  /** Shared by the webhook loops of this process: their writes commit together, with the attempts they carry. */
  commits: GroupCommit<ProducerSchema, StagedAttempts>;
  /** The attempts not yet logged: each write of the row takes its webhook's along. */
  attempts: AttemptLog;
  /** This process's lease owner name: every write holds only while it owns the webhook. */
  owner: string;
}

/**
 * One webhook's delivery state while its loop runs: the acknowledged position, the queue of planned batches, and
 * the writer that records both. Every write carries the whole state (later acknowledgements overwrite earlier ones),
 * one write at a time per webhook, through the shared group commit. A write only applies while the row still
 * holds what this stream last wrote; anything else (retention, another process) stops the stream.
 */
export class WebhookStream {
  cursor: number;
  /** The last delivery sequence number given out (to the last planned batch). */
  deliverySeq: number;
  replayCursor: number | null;
  replayUntil: number | null;
  queue: QueuedBatch[];
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
    private readonly deps: StreamDeps,
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

  /**
   * Replaces the batch in flight, which the receiver refused as too large, by its two halves: new batches with their
   * own ids that together keep its ranges, sent next (once written, like any batch).
   */
  splitInFlight(events: readonly BatchEvent[]): void {
    const [inFlight, ...rest] = this.queue;
    if (!inFlight) return;
    const halves = splitBatch(this.webhookId, inFlight.batch, events);
    let taken = 0;
    const queued = halves.map((batch) => {
      const part = events.slice(taken, taken + batch.seqs.length);
      taken += batch.seqs.length;
      // Not droppable: they stand for a batch already sent, whose range must stay delivered in order.
      return { batch, events: part, durable: false, droppable: false };
    });
    this.queue = [...queued, ...rest];
    this.write();
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
    // A stopped stream writes nothing more. Starting the writer anyway would end it before the assignment below
    // (its loop would not run, so its `finally` clears #writing synchronously), leaving a settled promise in #writing
    // that flush() then awaits forever in a loop of microtasks that starves the process (seen after a PostgreSQL
    // restart under load: serve at 80 % CPU, /healthz unanswered, the webhook stuck).
    if (this.#writing || this.stopped !== null) return;
    this.#writing = this.#writeWhileDirty();
  }

  /** Writes what the database does not hold yet (acknowledgements, planned batches) and waits for it, or for a stop. */
  async flush(): Promise<void> {
    // The write in flight usually carries everything already (planMore starts it just before the loop flushes):
    // asking for another before it ends would add a second commit, identical, before the batch may be sent.
    while (this.#writing) await this.#writing;
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
    // The attempts made so far go into the log in the same transaction: it shows them once the cursor does.
    const attempts = this.deps.attempts.take(this.webhookId);
    try {
      // Without attempts to carry it is one UPDATE, which commits by itself when it is alone in its group.
      const applied = await this.deps.commits.run(
        async (trx, staged) => {
          const changed = await updateLeasedWebhook(trx, owner, this.webhookId, expected, columns);
          if (changed && attempts.length > 0) staged.rows.push(...attempts);
          return changed;
        },
        [],
        { oneStatement: attempts.length === 0 },
      );
      if (!applied) {
        this.deps.attempts.giveBack(this.webhookId, attempts);
        this.stopped = 'the webhook row changed under its delivery loop (retention, or its lease was lost)';
        return;
      }
    } catch (error) {
      this.deps.attempts.giveBack(this.webhookId, attempts);
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
    const chosen = await chosenAfter(this.deps.context, row, from, until, ahead);
    // The row never holds more than twice the plan-ahead limit of batches (the caller plans only below it).
    const batches = Math.min(planAheadLimit.batches, 2 * planAheadLimit.batches - this.queue.length);
    const size = { events: settings.batchMax, bytes: settings.batchMaxBytes, envelopeBytes: envelopeBytes(row.account_id) };
    const { plans, to } = planBatches(from, chosen.coveredTo, chosen.events, size, { ...planAheadLimit, batches });
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
