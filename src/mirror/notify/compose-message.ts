// Turns an outbox message and its items into the text and recipients to send, with names from the mirror's tables.
import type { Kysely } from 'kysely';
import type { MirrorSchema } from '../schema.ts';
import type { OutgoingMessage } from './channels.ts';
import { type EventFacts, loIdOf, loTypeOf } from './facts.ts';
import { defaultDigestTitle, type RuleDefinition } from './rules.ts';
import { renderTemplate } from './template.ts';

/** Lines a digest lists before it says how many more there are. */
export const digestMaxLines = 100;

export interface MessageItem {
  accountId: number;
  facts: EventFacts;
}

export interface ComposedMessage extends OutgoingMessage {
  /** E-mail recipients (for a chat channel: empty). */
  to: string[];
}

/** A recipient that cannot be resolved yet (the learner's e-mail is not in the users table): tried again later. */
export class RecipientUnknownError extends Error {
  override name = 'RecipientUnknownError';
}

interface Names {
  user(accountId: number, userId: number): { name: string | null; email: string | null } | undefined;
  lo(accountId: number, loId: string): string | null | undefined;
  instance(accountId: number, instanceId: string): string | null | undefined;
}

/** Reads the names the items need from the users, learning_objects and lo_instances tables (filled by enrichment or import). */
export async function readNames(db: Kysely<MirrorSchema>, items: readonly MessageItem[]): Promise<Names> {
  const users = new Map<string, { name: string | null; email: string | null }>();
  const los = new Map<string, string | null>();
  const instances = new Map<string, string | null>();
  for (const { accountId, facts } of items) {
    const { userId, loInstanceId } = facts.data;
    const loId = loIdOf(facts.data);
    if (typeof userId === 'number' && !users.has(`${accountId} ${userId}`)) {
      const row = await db
        .selectFrom('users')
        .select(['name', 'email'])
        .where('account_id', '=', accountId)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      users.set(`${accountId} ${userId}`, row ?? { name: null, email: null });
    }
    if (loId && !los.has(`${accountId} ${loId}`)) {
      const row = await db
        .selectFrom('learning_objects')
        .select('name')
        .where('account_id', '=', accountId)
        .where('lo_id', '=', loId)
        .executeTakeFirst();
      los.set(`${accountId} ${loId}`, row?.name ?? null);
    }
    if (typeof loInstanceId === 'string' && !instances.has(`${accountId} ${loInstanceId}`)) {
      const row = await db
        .selectFrom('lo_instances')
        .select('name')
        .where('account_id', '=', accountId)
        .where('lo_instance_id', '=', loInstanceId)
        .executeTakeFirst();
      instances.set(`${accountId} ${loInstanceId}`, row?.name ?? null);
    }
  }
  return {
    user: (accountId, userId) => users.get(`${accountId} ${userId}`),
    lo: (accountId, loId) => los.get(`${accountId} ${loId}`),
    instance: (accountId, instanceId) => instances.get(`${accountId} ${instanceId}`),
  };
}

const text = (value: unknown) => (value === null || value === undefined ? 'none' : String(value));

/** The variables of one item: the rule, the event, its data, the records and the enriched names (ids when not enriched yet). */
export function itemVariables(rule: RuleDefinition, item: MessageItem, names: Names): Record<string, string> {
  const { facts, accountId } = item;
  const values: Record<string, string> = {
    'rule.name': rule.name,
    'account.id': String(accountId),
    'event.name': facts.eventName,
    'event.id': facts.eventId,
    'event.time': new Date(facts.timestamp).toISOString(),
  };
  for (const [key, value] of Object.entries(facts.data)) values[`data.${key}`] = text(value);
  for (const [prefix, record] of [
    ['previous', facts.previous],
    ['record', facts.record],
  ] as const) {
    for (const [key, value] of Object.entries(record ?? {})) values[`${prefix}.${key}`] = text(value);
  }
  const { userId, loInstanceId } = facts.data;
  if (typeof userId === 'number') {
    const user = names.user(accountId, userId);
    values['learner.id'] = String(userId);
    values['learner.name'] = user?.name ?? `user ${userId}`;
    values['learner.email'] = user?.email ?? '';
  }
  const loId = loIdOf(facts.data);
  if (loId) {
    values['lo.id'] = loId;
    values['lo.name'] = names.lo(accountId, loId) ?? loId;
    values['lo.type'] = loTypeOf(facts.data) ?? '';
  }
  if (typeof loInstanceId === 'string') {
    values['instance.id'] = loInstanceId;
    values['instance.name'] = names.instance(accountId, loInstanceId) ?? loInstanceId;
  }
  return values;
}

/** The e-mail recipients: fixed addresses, and `learner` resolved from the users table. */
function recipients(rule: RuleDefinition, first: Record<string, string>, learners: readonly string[]): string[] {
  if (rule.channel.type !== 'email') return [];
  const to: string[] = [];
  for (const recipient of rule.channel.to) {
    if (recipient !== 'learner') to.push(recipient);
    else {
      if (learners.some((email) => !email)) {
        throw new RecipientUnknownError(
          `the e-mail of learner ${first['learner.id']} (account ${first['account.id']}) is not in the users table yet; import the users report or configure --api so the mirror fetches it`,
        );
      }
      to.push(...learners);
    }
  }
  return [...new Set(to)];
}

/** The message for one event, or the digest of several (a title, then one line per event). */
export function composeMessage(
  rule: RuleDefinition,
  key: string,
  items: readonly MessageItem[],
  names: Names,
  digest: boolean,
): ComposedMessage {
  const perItem = items.map((item) => itemVariables(rule, item, names));
  const first = perItem[0] ?? { 'rule.name': rule.name };
  const learners = [...new Set(perItem.map((values) => values['learner.email'] ?? ''))];
  const to = recipients(rule, first, learners);
  if (!digest) {
    const body = renderTemplate(rule.template, first);
    const subject = rule.channel.type === 'email' && rule.channel.subject ? renderTemplate(rule.channel.subject, first) : rule.name;
    return { key, to, subject, text: body };
  }
  const times = items.map((item) => item.facts.timestamp);
  const titleValues: Record<string, string> = {
    ...first,
    'digest.count': String(items.length),
    'digest.from': new Date(Math.min(...times)).toISOString(),
    'digest.to': new Date(Math.max(...times)).toISOString(),
  };
  const title = renderTemplate(rule.digestTitle ?? defaultDigestTitle, titleValues);
  const lines = perItem.slice(0, digestMaxLines).map((values) => `- ${renderTemplate(rule.template, values)}`);
  if (items.length > digestMaxLines) lines.push(`… and ${items.length - digestMaxLines} more`);
  const subject = rule.channel.type === 'email' && rule.channel.subject ? renderTemplate(rule.channel.subject, titleValues) : title;
  return { key, to, subject, text: `${title}\n\n${lines.join('\n')}` };
}
