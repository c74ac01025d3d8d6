// What GET /status and /metrics show: inbox backlog, set-aside rows and held events, lag, counts of every anomaly kind, open gaps, enrichment.
import { sql } from 'kysely';
import type { MirrorContext } from './mirror-context.ts';
import { type NotifyStatus, readNotifyStatus } from './notify/read-notify-status.ts';
import { guardedWindow } from './take-rate-slot.ts';
import { type IncompleteSubscription, subscriptionWatch } from './watch-subscriptions.ts';

export interface MirrorStatus {
  /** `setAside`: rows that failed `--projection-attempts` times and wait for `learnhook mirror retry-failed`. */
  /** `heldEvents`: events kept unapplied because they could not be read or stored, waiting for `retry-failed` after an upgrade. */
  inbox: { backlog: number; oldestPendingAgeMs: number; received: number; setAside: number; heldEvents: number };
  /** How long the oldest pending delivery has waited in the inbox; 0 when nothing is pending (old events are not lag). */
  lagMs: number;
  lastAppliedAt: string | null;
  counts: {
    applied: number;
    duplicates: number;
    duplicateBatches: number;
    ignored: number;
    outOfOrder: number;
    gaps: number;
    unknown: number;
    /** Inbox rows ever set aside (each also an `unprocessable` anomaly). */
    unprocessable: number;
    /** Events ever held as unreadable (each an `unreadable_event` anomaly). */
    unreadable: number;
    /** `learnhook-sequence` headers ignored because they were not a valid range. */
    badSequences: number;
  };
  openGaps: Array<{ accountId: number; firstMissing: number; lastMissing: number; since: string }>;
  /** Accounts whose webhook (per its `learnhook-events` header) lacks events the tables depend on; empty when all is well. */
  incompleteSubscriptions: IncompleteSubscription[];
  enrichment: { queued: number; rateLimit: number; windowMs: number; usedInWindow: number; remaining: number; blockedUntil: string | null };
  /** Notification rules' outbox and channel health (docs/notifications.md). */
  notifications: NotifyStatus;
}

export async function readStatus(context: MirrorContext): Promise<MirrorStatus> {
  const { db } = context.database;
  const now = context.now();
  const { settings } = context;
  const backlog = await db
    .selectFrom('inbox')
    .select([sql<number>`count(*)`.as('count'), sql<number | null>`min(received_at)`.as('oldest')])
    .where('processed_at', 'is', null)
    .where('failed_at', 'is', null)
    .executeTakeFirstOrThrow();
  const setAside = await db
    .selectFrom('inbox')
    .select(sql<number>`count(*)`.as('count'))
    .where('failed_at', 'is not', null)
    .where('processed_at', 'is', null)
    .executeTakeFirstOrThrow();
  const held = await db
    .selectFrom('held_events')
    .select(sql<number>`count(*)`.as('count'))
    .where('resolved_at', 'is', null)
    .executeTakeFirstOrThrow();
  const received = await db.selectFrom('inbox').select(sql<number>`count(*)`.as('count')).executeTakeFirstOrThrow();
  // When the projector last applied a delivery that carried readable events (test deliveries carry none).
  const lastApplied = await db
    .selectFrom('inbox')
    .select(sql<number | null>`max(processed_at)`.as('at'))
    .where('test', '=', 0)
    .whereRef('held', '<', 'event_count')
    .executeTakeFirstOrThrow();
  const applied = await db.selectFrom('processed_events').select(sql<number>`count(*)`.as('count')).executeTakeFirstOrThrow();
  const kinds = await db
    .selectFrom('anomalies')
    .select(['kind', sql<number>`count(*)`.as('count')])
    .groupBy('kind')
    .execute();
  const byKind = new Map(kinds.map((row) => [row.kind, Number(row.count)]));
  const state = new Map((await db.selectFrom('mirror_state').selectAll().execute()).map((row) => [row.key, row.value]));
  const gaps = await db.selectFrom('sequence_gaps').selectAll().where('closed_at', 'is', null).orderBy('id').limit(100).execute();
  const queued = await db.selectFrom('enrichment_queue').select(sql<number>`count(*)`.as('count')).executeTakeFirstOrThrow();
  const used = await db
    .selectFrom('api_calls')
    .select(sql<number>`count(*)`.as('count'))
    .where('called_at', '>', now - guardedWindow(settings.enrichRateWindowMs))
    .executeTakeFirstOrThrow();
  const blockedUntil = state.get('rate_blocked_until');
  return {
    inbox: {
      backlog: Number(backlog.count),
      oldestPendingAgeMs: backlog.oldest === null ? 0 : Math.max(0, now - Number(backlog.oldest)),
      received: Number(received.count),
      setAside: Number(setAside.count),
      heldEvents: Number(held.count),
    },
    lagMs: Number(backlog.count) === 0 || backlog.oldest === null ? 0 : Math.max(0, now - Number(backlog.oldest)),
    lastAppliedAt: lastApplied.at === null ? null : new Date(Number(lastApplied.at)).toISOString(),
    counts: {
      applied: Number(applied.count) - (byKind.get('unknown_event') ?? 0),
      duplicates: byKind.get('duplicate_event') ?? 0,
      duplicateBatches: byKind.get('duplicate_batch') ?? 0,
      ignored: byKind.get('ignored_by_rule') ?? 0,
      outOfOrder: byKind.get('out_of_order') ?? 0,
      gaps: byKind.get('gap') ?? 0,
      unknown: byKind.get('unknown_event') ?? 0,
      unprocessable: byKind.get('unprocessable') ?? 0,
      unreadable: byKind.get('unreadable_event') ?? 0,
      badSequences: byKind.get('bad_sequence') ?? 0,
    },
    openGaps: gaps.map((gap) => ({
      accountId: gap.account_id,
      firstMissing: gap.first_missing,
      lastMissing: gap.last_missing,
      since: new Date(gap.opened_at).toISOString(),
    })),
    incompleteSubscriptions: subscriptionWatch(context).incomplete(),
    enrichment: {
      queued: Number(queued.count),
      rateLimit: settings.enrichRateLimit,
      windowMs: settings.enrichRateWindowMs,
      usedInWindow: Number(used.count),
      remaining: Math.max(0, settings.enrichRateLimit - Number(used.count)),
      blockedUntil: blockedUntil !== undefined && blockedUntil > now ? new Date(blockedUntil).toISOString() : null,
    },
    notifications: await readNotifyStatus(context),
  };
}
