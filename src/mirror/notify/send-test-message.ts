// "Send test": one message through a rule's channel now, built from the catalog's sample of its first event; recorded for the rules page.
import { randomBytes } from 'node:crypto';
import { sampleEvent } from '../../catalog/index.ts';
import { notFound } from '../../errors.ts';
import type { MirrorContext } from '../mirror-context.ts';
import { parseTimestamp } from '../parse-envelope.ts';
import type { Channels } from './channels.ts';
import { composeMessage, readNames } from './compose-message.ts';
import { eventFacts } from './facts.ts';
import { channelKey } from './rules.ts';
import { getRule } from './rules-store.ts';
import { recordChannelOutcome } from './send-notifications.ts';

export interface TestResult {
  ok: boolean;
  messageId: number;
  subject: string;
  /** Where it went (SMTP server, file or chat host), or the error. */
  detail: string;
}

export async function sendTestMessage(context: MirrorContext, channels: Channels, name: string): Promise<TestResult> {
  const stored = await getRule(context.database.db, name);
  if (!stored) throw notFound(`the rule "${name}"`);
  const rule = stored.definition;
  const sample = sampleEvent(rule.events[0] as string);
  const event = { ...sample, timestamp: parseTimestamp(sample.timestamp) ?? 0, known: true, data: sample.data };
  const facts = eventFacts(event, null, null);
  const channel = channelKey(rule.channel);
  // Recorded once sent (or failed), never as pending: the outbox worker must not take a test for a message of its own.
  const record = async (state: 'sent' | 'failed', error: string | null) => {
    const now = context.now();
    const row = await context.database.db
      .insertInto('notification_messages')
      .values({
        rule_id: stored.id,
        digest_key: null,
        sealed_at: now,
        item_count: 1,
        state,
        test: 1,
        created_at: now,
        next_attempt_at: now,
        attempts: 1,
        last_attempt_at: now,
        lease_token: null,
        lease_until: null,
        channel,
        last_error: error,
        sent_at: state === 'sent' ? now : null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  };
  const key = `learnhook-test-${randomBytes(8).toString('hex')}`;
  let subject = `[test] ${rule.name}`;
  try {
    const items = [{ accountId: 0, facts }];
    const names = await readNames(context.database.db, items);
    const test = {
      ...rule,
      channel: rule.channel.type === 'email' ? { ...rule.channel, to: rule.channel.to.filter((to) => to !== 'learner') } : rule.channel,
    };
    const composed = composeMessage(test, key, items, names, false);
    subject = `[test] ${composed.subject}`;
    const message = {
      ...composed,
      subject,
      text: `This is a test of the rule "${rule.name}", with the catalog's sample ${sample.eventName} event.\n\n${composed.text}`,
    };
    if (rule.channel.type === 'email' && message.to.length === 0)
      throw new Error('the rule sends only to the learner; a test has no learner to send to');
    const detail =
      rule.channel.type === 'chat' ? await channels.sendChat(rule.channel.url, message) : await channels.sendEmail(message.to, message);
    const messageId = await record('sent', null);
    await recordChannelOutcome(context, channel, undefined);
    return { ok: true, messageId, subject, detail };
  } catch (error) {
    const text = (error as Error).message;
    const messageId = await record('failed', text);
    await recordChannelOutcome(context, channel, text);
    return { ok: false, messageId, subject, detail: text };
  }
}
