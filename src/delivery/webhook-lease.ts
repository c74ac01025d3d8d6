// Every read and write a delivery worker makes to a webhook row it leases, each holding only while this process owns the lease.
import type { Kysely, Updateable } from 'kysely';
import type { ProducerContext } from '../context.ts';
import type { ProducerSchema, WebhooksTable } from '../store/schema.ts';
import type { WebhookRow } from '../webhooks/webhooks.ts';

/** A leased webhook with what delivery needs of its account. */
export type LeasedWebhook = WebhookRow & { account_status: string; account_head: number; contact_email: string | null };

/** Takes the lease of a webhook nobody holds (or whose lease expired); whether it was taken. */
export async function claimWebhook(context: ProducerContext, owner: string, webhookId: string, now: number): Promise<boolean> {
  const result = await context.database.db
    .updateTable('webhooks')
    .set({ lease_owner: owner, lease_until: now + context.settings.leaseMs })
    .where('id', '=', webhookId)
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Gives up this process's lease of a webhook, so another process may deliver to it at once. */
export async function releaseWebhook(context: ProducerContext, owner: string, webhookId: string): Promise<void> {
  await context.database.db
    .updateTable('webhooks')
    .set({ lease_owner: null, lease_until: null })
    .where('id', '=', webhookId)
    .where('lease_owner', '=', owner)
    .execute()
    // Not given back (the database is unreachable): the lease expires by itself.
    .catch(() => {});
}

/** The webhook's row, if this process still holds its lease. */
export async function loadLeasedWebhook(context: ProducerContext, owner: string, webhookId: string): Promise<LeasedWebhook | undefined> {
  return context.database.db
    .selectFrom('webhooks')
    .innerJoin('accounts', 'accounts.id', 'webhooks.account_id')
    .selectAll('webhooks')
    .select(['accounts.status as account_status', 'accounts.last_seq as account_head', 'accounts.contact_email'])
    .where('webhooks.id', '=', webhookId)
    .where('webhooks.lease_owner', '=', owner)
    .executeTakeFirst();
}

/** What the row must still hold for a write to apply: the batch in flight (and the delivery sequence) last seen. */
export interface ExpectedRow {
  batchId: string | null;
  deliverySeq?: number;
}

/**
 * Writes delivery columns of a leased webhook, only while this process holds the lease and the row holds what the
 * writer expects; whether it applied (when not, the row changed under the writer: retention, or the lease was lost).
 */
export async function updateLeasedWebhook(
  db: Kysely<ProducerSchema>,
  owner: string,
  webhookId: string,
  expected: ExpectedRow,
  columns: Updateable<WebhooksTable>,
): Promise<boolean> {
  let update = db
    .updateTable('webhooks')
    .set(columns)
    .where('id', '=', webhookId)
    .where('lease_owner', '=', owner)
    .where('batch_id', expected.batchId === null ? 'is' : '=', expected.batchId);
  if (expected.deliverySeq !== undefined) update = update.where('delivery_seq', '=', expected.deliverySeq);
  const result = await update.executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}
