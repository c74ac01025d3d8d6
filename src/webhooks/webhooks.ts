// Webhooks of an account: register, list, read, change, delete and rotate the signing secret (secrets leave only once,
// and are stored sealed with the secret key).
import { randomBytes } from 'node:crypto';
import type { Selectable } from 'kysely';
import { eventNames, isEventName } from '../catalog/index.ts';
import type { ProducerContext } from '../context.ts';
import { newSigningSecret } from '../delivery/sign-payload.ts';
import { checkTarget, TargetRefusedError } from '../delivery/target-guard.ts';
import { conflict, invalidInput, notFound, ruleViolation } from '../errors.ts';
import { webhookOwner } from '../secrets/prepare-secrets.ts';
import type { WebhookAuthType, WebhookState, WebhooksTable } from '../store/schema.ts';

/** The batch columns of a webhook with no batch in flight and none planned. */
export const noBatchInFlight = {
  batch_id: null,
  batch_seqs: null,
  batch_first_seq: null,
  batch_last_seq: null,
  batch_delivery_first: null,
  batch_delivery_last: null,
  batch_replay: 0,
  batch_attempts: 0,
  batch_plan: null,
} as const;

export type WebhookRow = Selectable<WebhooksTable>;

export type WebhookAuthInput = { type: 'none' } | { type: 'basic'; username: string; password: string } | { type: 'signature' };

export interface Webhook {
  id: string;
  accountId: number;
  name: string;
  description: string;
  url: string;
  events: string[];
  auth: { type: WebhookAuthType; username?: string };
  /** Whether deliveries flow: false when paused by its owner or disabled by learnhook. */
  active: boolean;
  state: WebhookState;
  disabledReason: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface NewWebhook {
  name: string;
  description?: string;
  url: string;
  /** Catalog event names; omitted or `["all"]`: every event of the catalog. */
  events?: string[];
  auth?: WebhookAuthInput;
  active?: boolean;
}

export type WebhookChanges = Partial<NewWebhook>;

export function toWebhook(row: WebhookRow): Webhook {
  const auth: Webhook['auth'] = { type: row.auth_type };
  if (row.auth_type === 'basic' && row.basic_username !== null) auth.username = row.basic_username;
  return {
    id: row.id,
    accountId: row.account_id,
    name: row.name,
    description: row.description,
    url: row.url,
    events: JSON.parse(row.events) as string[],
    auth,
    active: row.state === 'enabled',
    state: row.state,
    disabledReason: row.disabled_reason,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

/** The chosen events, checked against the catalog; `all` (alone) stands for every event. */
function checkEvents(events: readonly string[]): string[] {
  if (events.length === 1 && events[0]?.toLowerCase() === 'all') return [...eventNames];
  const unknown = events.filter((name) => !isEventName(name));
  if (unknown.length > 0)
    throw invalidInput(`unknown event names: ${unknown.join(', ')}; run learnhook catalog list for the 27 catalog events, or give ["all"]`);
  return [...new Set(events)];
}

async function checkUrl(context: ProducerContext, url: string): Promise<string> {
  try {
    return (await checkTarget(url, context.settings.allowPrivateTargets, context.settings.trustedTargets)).toString();
  } catch (error) {
    if (error instanceof TargetRefusedError) throw invalidInput(error.message, undefined, 'target_refused');
    throw error;
  }
}

async function requireActiveAccount(context: ProducerContext, accountId: number): Promise<void> {
  const account = await context.database.db.selectFrom('accounts').select('status').where('id', '=', accountId).executeTakeFirst();
  if (!account) throw notFound(`account ${accountId}`);
  if (account.status !== 'ACTIVE')
    throw ruleViolation(`webhooks exist only for ACTIVE accounts; account ${accountId} is ${account.status}`);
}

/** The auth columns of a webhook, password and secret sealed for it; `secret` is the new signing secret, in clear, to show once. */
function authColumns(context: ProducerContext, webhookId: string, auth: WebhookAuthInput) {
  const owner = webhookOwner(webhookId);
  const secret = auth.type === 'signature' ? newSigningSecret() : undefined;
  return {
    secret,
    columns: {
      auth_type: auth.type,
      basic_username: auth.type === 'basic' ? auth.username : null,
      basic_password: auth.type === 'basic' ? context.secrets.seal(auth.password, owner) : null,
      secret: secret === undefined ? null : context.secrets.seal(secret, owner),
      previous_secret: null,
      previous_secret_until: null,
      plaintext_secrets: 0,
    },
  };
}

/** Registers a webhook; its cursor starts at the account's head, so it receives the events that come after it. */
export async function createWebhook(
  context: ProducerContext,
  accountId: number,
  input: NewWebhook,
): Promise<Webhook & { secret?: string }> {
  await requireActiveAccount(context, accountId);
  const events = checkEvents(input.events ?? ['all']);
  const url = await checkUrl(context, input.url);
  const now = context.now();
  const id = `wh_${randomBytes(12).toString('base64url')}`;
  const auth = authColumns(context, id, input.auth ?? { type: 'signature' });
  const row = await context.database.db.transaction().execute(async (trx) => {
    const count = await trx
      .selectFrom('webhooks')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('account_id', '=', accountId)
      .executeTakeFirstOrThrow();
    const limit = context.settings.maxWebhooksPerAccount;
    if (Number(count.count) >= limit)
      throw conflict(`account ${accountId} has ${limit} webhooks already, the most allowed`, 'webhook_limit');
    const account = await trx.selectFrom('accounts').select('last_seq').where('id', '=', accountId).executeTakeFirstOrThrow();
    return trx
      .insertInto('webhooks')
      .values({
        id,
        account_id: accountId,
        name: input.name,
        description: input.description ?? '',
        url,
        events: JSON.stringify(events),
        ...auth.columns,
        state: input.active === false ? 'paused' : 'enabled',
        disabled_reason: null,
        cursor: account.last_seq,
        next_attempt_at: null,
        failing_since: null,
        last_reminder_at: null,
        ...noBatchInFlight,
        replay_cursor: null,
        replay_until: null,
        lease_owner: null,
        lease_until: null,
        created_at: now,
        updated_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  });
  context.signals.emit('webhook-changed', id);
  return auth.secret ? { ...toWebhook(row), secret: auth.secret } : toWebhook(row);
}

export async function getWebhookRow(context: ProducerContext, accountId: number, webhookId: string): Promise<WebhookRow> {
  const row = await context.database.db
    .selectFrom('webhooks')
    .selectAll()
    .where('id', '=', webhookId)
    .where('account_id', '=', accountId)
    .executeTakeFirst();
  if (!row) throw notFound(`webhook ${webhookId}`);
  return row;
}

export async function getWebhook(context: ProducerContext, accountId: number, webhookId: string): Promise<Webhook> {
  return toWebhook(await getWebhookRow(context, accountId, webhookId));
}

export async function listWebhooks(context: ProducerContext, accountId: number): Promise<Webhook[]> {
  const rows = await context.database.db
    .selectFrom('webhooks')
    .selectAll()
    .where('account_id', '=', accountId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map(toWebhook);
}

/**
 * Changes a webhook. `active: true` re-enables a paused or disabled one: it resumes from its cursor, and the
 * batch in flight (if any) is sent again at once with its old id. Switching to signature auth returns a new secret.
 */
export async function updateWebhook(
  context: ProducerContext,
  accountId: number,
  webhookId: string,
  changes: WebhookChanges,
): Promise<Webhook & { secret?: string }> {
  const current = await getWebhookRow(context, accountId, webhookId);
  const update: Partial<WebhookRow> = { updated_at: context.now() };
  if (changes.name !== undefined) update.name = changes.name;
  if (changes.description !== undefined) update.description = changes.description;
  if (changes.url !== undefined) update.url = await checkUrl(context, changes.url);
  if (changes.events !== undefined) update.events = JSON.stringify(checkEvents(changes.events));
  let secret: string | undefined;
  if (changes.auth !== undefined) {
    // Keep the secret when signature auth is merely restated: receivers hold it.
    if (!(changes.auth.type === 'signature' && current.auth_type === 'signature')) {
      const auth = authColumns(context, webhookId, changes.auth);
      Object.assign(update, auth.columns);
      secret = auth.secret;
    }
  }
  if (changes.active === true && current.state !== 'enabled') {
    Object.assign(update, { state: 'enabled', disabled_reason: null, failing_since: null, last_reminder_at: null, next_attempt_at: null });
  } else if (changes.active === false && current.state === 'enabled') {
    update.state = 'paused';
  }
  const row = await context.database.db
    .updateTable('webhooks')
    .set(update)
    .where('id', '=', webhookId)
    .where('account_id', '=', accountId)
    .returningAll()
    .executeTakeFirst();
  if (!row) throw notFound(`webhook ${webhookId}`);
  context.signals.emit('webhook-changed', webhookId);
  return secret ? { ...toWebhook(row), secret } : toWebhook(row);
}

export async function deleteWebhook(context: ProducerContext, accountId: number, webhookId: string): Promise<void> {
  const result = await context.database.db
    .deleteFrom('webhooks')
    .where('id', '=', webhookId)
    .where('account_id', '=', accountId)
    .executeTakeFirst();
  if (Number(result.numDeletedRows) === 0) throw notFound(`webhook ${webhookId}`);
}

/** A new signing secret; deliveries are signed with the old one too until `secretOverlapMs` has passed. */
export async function rotateSecret(
  context: ProducerContext,
  accountId: number,
  webhookId: string,
): Promise<{ secret: string; previousSecretValidUntil: string }> {
  const current = await getWebhookRow(context, accountId, webhookId);
  if (current.auth_type !== 'signature' || !current.secret)
    throw conflict(`webhook ${webhookId} does not use signature auth`, 'not_signed');
  const now = context.now();
  const secret = newSigningSecret();
  const until = now + context.settings.secretOverlapMs;
  await context.database.db
    .updateTable('webhooks')
    // The previous secret stays sealed as it was (same webhook, same key).
    .set({
      secret: context.secrets.seal(secret, webhookOwner(webhookId)),
      previous_secret: current.secret,
      previous_secret_until: until,
      updated_at: now,
    })
    .where('id', '=', webhookId)
    .execute();
  return { secret, previousSecretValidUntil: new Date(until).toISOString() };
}
