// The outbox worker: claims one due message under a lease, sends it, marks it sent (only while it still holds the lease) or retries with backoff.
import { randomBytes } from 'node:crypto';
import { type Selectable, sql } from 'kysely';
import { retryDelay } from '../../delivery/retry-policy.ts';
import type { RunningService } from '../../server.ts';
import type { MirrorContext } from '../mirror-context.ts';
import type { NotificationMessagesTable } from '../schema.ts';
import { Channels } from './channels.ts';
import { composeMessage, type MessageItem, readNames } from './compose-message.ts';
import type { EventFacts } from './facts.ts';
import { channelKey, type RuleDefinition } from './rules.ts';

type MessageRow = Selectable<NotificationMessagesTable>;

export type SendStep =
  | { kind: 'idle'; nextDueAt: number | null }
  | { kind: 'sent'; messageId: number; ruleName: string }
  | { kind: 'failed'; messageId: number; error: string; gaveUp: boolean }
  | { kind: 'cancelled'; messageId: number };

export interface RunningNotifier extends RunningService {
  /** Sends one due message now, if any (tests call it to step through). */
  step(): Promise<SendStep>;
  channels: Channels;
}

/** The id a receiver can deduplicate on: the same on every attempt of a message. */
export function messageKey(messageId: number): string {
  return `learnhook-notification-${messageId}`;
}

/**
 * Takes the oldest due message. A message whose previous lease ran out while it was held (its sender died or hung
 * mid-send) counts one `in_doubt`: that send may have reached the recipient, and this one repeats it (same key).
 */
async function claim(context: MirrorContext, token: string): Promise<MessageRow | undefined> {
  const { database, settings } = context;
  const now = context.now();
  return database.db.transaction().execute(async (trx) => {
    const due = trx
      .selectFrom('notification_messages')
      .select('id')
      .where('state', '=', 'pending')
      .where('test', '=', 0)
      .where('next_attempt_at', '<=', now)
      .where((where) => where.or([where('lease_until', 'is', null), where('lease_until', '<', now)]))
      .orderBy('next_attempt_at')
      .orderBy('id')
      .limit(1);
    // Several mirror processes on one PostgreSQL each take a different message.
    const row = await database.claimRows(due).executeTakeFirst();
    if (!row) return undefined;
    // Sealing a digest here takes the row lock an item needs to join it: later items open the next digest.
    return trx
      .updateTable('notification_messages')
      .set({
        lease_token: token,
        lease_until: now + settings.notifyLeaseMs,
        attempts: sql`attempts + 1`,
        last_attempt_at: now,
        sealed_at: sql`coalesce(sealed_at, ${now})`,
        in_doubt: sql`in_doubt + (case when lease_token is null then 0 else 1 end)`,
      })
      .where('id', '=', row.id)
      .where('state', '=', 'pending')
      .returningAll()
      .executeTakeFirst();
  });
}

async function readItems(context: MirrorContext, messageId: number): Promise<MessageItem[]> {
  const rows = await context.database.db
    .selectFrom('notification_items')
    .select(['account_id', 'facts'])
    .where('message_id', '=', messageId)
    .orderBy('event_at')
    .orderBy('id')
    .execute();
  return rows.map((row) => ({ accountId: Number(row.account_id), facts: JSON.parse(row.facts) as EventFacts }));
}

/** Records a channel's last outcome: a channel whose last attempt failed is failing (shown in /status and /metrics). */
export async function recordChannelOutcome(context: MirrorContext, channel: string, error: string | undefined): Promise<void> {
  const now = context.now();
  const values = error
    ? { failing_since: now, last_error: error, last_failure_at: now, last_success_at: null }
    : { failing_since: null, last_error: null, last_failure_at: null, last_success_at: now };
  await context.database.db
    .insertInto('notification_channels')
    .values({ channel, ...values })
    .onConflict((conflict) =>
      conflict
        .column('channel')
        .doUpdateSet(
          error
            ? { failing_since: sql`coalesce(notification_channels.failing_since, ${now})`, last_error: error, last_failure_at: now }
            : { failing_since: null, last_success_at: now },
        ),
    )
    .execute();
}

/** Sends a composed message through the rule's channel; returns where it went. */
async function deliver(channels: Channels, rule: RuleDefinition, message: ReturnType<typeof composeMessage>): Promise<string> {
  if (rule.channel.type === 'chat') return channels.sendChat(rule.channel.url, message);
  if (message.to.length === 0) throw new Error('the message has no recipient');
  return channels.sendEmail(message.to, message);
}

export async function sendOne(context: MirrorContext, channels: Channels): Promise<SendStep> {
  const token = randomBytes(12).toString('hex');
  const message = await claim(context, token);
  const { db } = context.database;
  if (!message) {
    const next = await db
      .selectFrom('notification_messages')
      .select(sql<number | null>`min(next_attempt_at)`.as('next'))
      .where('state', '=', 'pending')
      .executeTakeFirstOrThrow();
    return { kind: 'idle', nextDueAt: next.next === null ? null : Number(next.next) };
  }
  const owned = () => db.updateTable('notification_messages').where('id', '=', message.id).where('lease_token', '=', token);
  const ruleRow = await db.selectFrom('notification_rules').select('definition').where('id', '=', message.rule_id).executeTakeFirst();
  if (!ruleRow) {
    await owned().set({ state: 'cancelled', lease_token: null, lease_until: null }).execute();
    return { kind: 'cancelled', messageId: message.id };
  }
  const rule = JSON.parse(ruleRow.definition) as RuleDefinition;
  const channel = channelKey(rule.channel);
  try {
    const items = await readItems(context, message.id);
    if (items.length === 0) throw new Error('the message has no items');
    const names = await readNames(db, items);
    const composed = composeMessage(rule, messageKey(message.id), items, names, message.digest_key !== null);
    const where = await deliver(channels, rule, composed);
    // The window for a repeat is between the receiver's acceptance above and this commit: a few milliseconds.
    const marked = await owned()
      .set({ state: 'sent', sent_at: context.now(), lease_token: null, lease_until: null, last_error: null, channel })
      .executeTakeFirst();
    if (Number(marked.numUpdatedRows) === 0) {
      context.logger.warn(
        `notification ${message.id} was sent, but its lease had passed to another process meanwhile (a repeat is possible)`,
      );
    }
    await recordChannelOutcome(context, channel, undefined);
    context.logger.info(
      { rule: rule.name, message: message.id, items: items.length },
      `notification "${composed.subject}" sent to ${where}`,
    );
    return { kind: 'sent', messageId: message.id, ruleName: rule.name };
  } catch (error) {
    const text = (error as Error).message;
    const now = context.now();
    const gaveUp = now - message.created_at >= context.settings.notifyGiveUpMs;
    const wait = retryDelay(
      { initialMs: context.settings.notifyRetryInitialMs, maxMs: context.settings.notifyRetryMaxMs, jitterPercent: 0 },
      { failures: message.attempts },
    );
    const marked = await owned()
      .set({
        state: gaveUp ? 'failed' : 'pending',
        next_attempt_at: now + wait,
        lease_token: null,
        lease_until: null,
        last_error: text,
        channel,
      })
      .executeTakeFirst();
    // A process that lost its lease meanwhile says nothing: the message and the channel belong to the one that took it over.
    if (Number(marked.numUpdatedRows) === 0) return { kind: 'failed', messageId: message.id, error: text, gaveUp: false };
    await recordChannelOutcome(context, channel, text);
    context.logger.error(
      { rule: rule.name, message: message.id, attempts: message.attempts },
      gaveUp
        ? `notification ${message.id} of rule "${rule.name}" failed for longer than --notify-give-up and is given up: ${text}`
        : `notification ${message.id} of rule "${rule.name}" failed (${text}); next try in ${Math.round(wait / 1000)} s`,
    );
    return { kind: 'failed', messageId: message.id, error: text, gaveUp };
  }
}

/** Starts the worker: it sends due messages one at a time (so a crash leaves at most one send in doubt), then sleeps until the next is due. */
export function startNotifier(context: MirrorContext): RunningNotifier {
  const channels = new Channels(context.settings);
  let stopped = false;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (!stopped) {
      let waitMs = context.settings.notifyPollMs;
      try {
        const step = await sendOne(context, channels);
        if (step.kind !== 'idle') waitMs = 0;
        else if (step.nextDueAt !== null) waitMs = Math.min(waitMs, Math.max(0, step.nextDueAt - context.now()));
      } catch (error) {
        context.logger.error({ err: error }, `the notification sender stopped on an error; it tries again in ${waitMs} ms`);
      }
      if (stopped) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  })();
  return {
    name: 'notifier',
    channels,
    step: () => sendOne(context, channels),
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      channels.close();
    },
  };
}
