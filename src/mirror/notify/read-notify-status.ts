// The notifications part of the mirror's /status and /metrics: outbox counts and the health of each channel.
import { sql } from 'kysely';
import type { MirrorContext } from '../mirror-context.ts';

export interface NotifyStatus {
  rules: number;
  /** Messages waiting: due now or later (digests wait for their window to end). */
  pending: number;
  /** Pending messages whose last attempt failed (retried with backoff). */
  retrying: number;
  sent: number;
  /** Given up after --notify-give-up. */
  failed: number;
  /** Sends repeated after a process died mid-send (each possibly received twice, with the same Message-ID). */
  inDoubt: number;
  /** Age of the oldest message due and not sent. */
  oldestDueAgeMs: number;
  channels: Array<{
    channel: string;
    state: 'ok' | 'failing';
    failingSince: string | null;
    lastError: string | null;
    lastSuccessAt: string | null;
  }>;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

export async function readNotifyStatus(context: MirrorContext): Promise<NotifyStatus> {
  const { db } = context.database;
  const now = context.now();
  const rules = await db.selectFrom('notification_rules').select(sql<number>`count(*)`.as('count')).executeTakeFirstOrThrow();
  const states = await db
    .selectFrom('notification_messages')
    .select([
      'state',
      sql<number>`count(*)`.as('count'),
      sql<number>`sum(in_doubt)`.as('in_doubt'),
      sql<number>`sum(case when last_error is not null then 1 else 0 end)`.as('retrying'),
      sql<number | null>`min(case when next_attempt_at <= ${now} then next_attempt_at end)`.as('oldest_due'),
    ])
    .where('test', '=', 0)
    .groupBy('state')
    .execute();
  const byState = (state: string) => states.find((row) => row.state === state);
  const pending = byState('pending');
  const channels = await db.selectFrom('notification_channels').selectAll().orderBy('channel').execute();
  return {
    rules: Number(rules.count),
    pending: Number(pending?.count ?? 0),
    retrying: Number(pending?.retrying ?? 0),
    sent: Number(byState('sent')?.count ?? 0),
    failed: Number(byState('failed')?.count ?? 0),
    inDoubt: states.reduce((sum, row) => sum + Number(row.in_doubt ?? 0), 0),
    oldestDueAgeMs: pending?.oldest_due == null ? 0 : Math.max(0, now - Number(pending.oldest_due)),
    channels: channels.map((row) => ({
      channel: row.channel,
      state: row.failing_since === null ? 'ok' : 'failing',
      failingSince: iso(row.failing_since),
      lastError: row.last_error,
      lastSuccessAt: iso(row.last_success_at),
    })),
  };
}
