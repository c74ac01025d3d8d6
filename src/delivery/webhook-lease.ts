// Every read and write a delivery worker makes to a webhook row it leases, each holding only while this process owns the lease.
import { type ExpressionBuilder, type Kysely, sql, type Updateable } from 'kysely';
import { ownerGone } from '../cluster/cluster-session.ts';
import type { ProducerContext } from '../context.ts';
import type { ProducerSchema, WebhooksTable } from '../store/schema.ts';
import type { WebhookRow } from '../webhooks/webhooks.ts';

/** A leased webhook with what delivery needs of its account. */
export type LeasedWebhook = WebhookRow & { account_status: string; account_head: number; contact_email: string | null };

/**
 * Webhooks with work due now that nobody holds: no lease, an expired one, or (PostgreSQL) one whose owner has no live
 * cluster session. Work is a batch in flight, a replay, or events after the cursor. Longest-waiting first.
 */
function dueWebhooks(context: ProducerContext, now: number, skip: readonly string[]) {
  const { database } = context;
  let due = database.db
    .selectFrom('webhooks')
    .select('webhooks.id')
    .where('webhooks.state', '=', 'enabled')
    .where((eb) =>
      eb.or([eb('webhooks.lease_until', 'is', null), eb('webhooks.lease_until', '<', now), ownerGone(database, 'webhooks.lease_owner')]),
    )
    .where((eb) => eb.or([eb('webhooks.next_attempt_at', 'is', null), eb('webhooks.next_attempt_at', '<=', now)]))
    // The account in a subquery, not a join: the claim then locks webhook rows only, never the account rows ingest writes.
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('accounts')
          .select('accounts.id')
          .whereRef('accounts.id', '=', 'webhooks.account_id')
          .where('accounts.status', '=', 'ACTIVE')
          .where((inner) =>
            inner.or([
              inner('webhooks.batch_id', 'is not', null),
              inner('webhooks.replay_cursor', 'is not', null),
              inner('webhooks.cursor', '<', inner.ref('accounts.last_seq')),
            ]),
          ),
      ),
    )
    .orderBy('webhooks.waiting_since')
    .orderBy('webhooks.id');
  if (skip.length > 0) due = due.where('webhooks.id', 'not in', skip);
  return due;
}

/** What a leased webhook's row holds of its account, read in the statement that returns the row. */
function accountColumns(eb: ExpressionBuilder<ProducerSchema, 'webhooks'>) {
  const ofAccount = eb.selectFrom('accounts').whereRef('accounts.id', '=', 'webhooks.account_id');
  return [
    ofAccount.select('accounts.status').$asScalar().$notNull().as('account_status'),
    ofAccount.select('accounts.last_seq').$asScalar().$notNull().as('account_head'),
    ofAccount.select('accounts.contact_email').$asScalar().as('contact_email'),
  ];
}

/**
 * Takes the leases of up to `limit` due webhooks for `owner` in one statement, longest-waiting first, and returns their
 * rows as leased (so a delivery starts without reading its row again). On PostgreSQL the candidates are locked with
 * SKIP LOCKED, so claimers running at once never take the same webhook and never wait for each other; SQLite has one
 * writer, so the same statement without the clause does it.
 * `skip`: webhooks this process is delivering to already (its own lease may have looked expired or gone).
 */
export async function claimDueWebhooks(
  context: ProducerContext,
  owner: string,
  now: number,
  limit: number,
  skip: readonly string[] = [],
): Promise<LeasedWebhook[]> {
  const { database } = context;
  return database.db
    .updateTable('webhooks')
    .set({ lease_owner: owner, lease_until: now + context.settings.leaseMs })
    .where('id', 'in', database.claimRows(dueWebhooks(context, now, skip).limit(limit)))
    .returningAll()
    .returning(accountColumns)
    .execute();
}

/** Whether a webhook other than `skip` is due and waiting for a worker (a full process then gives others their turn). */
export async function anyWebhookWaiting(context: ProducerContext, now: number, skip: readonly string[]): Promise<boolean> {
  return (await dueWebhooks(context, now, skip).limit(1).executeTakeFirst()) !== undefined;
}

/** Extends a lease this process holds; false when it holds it no more (another process took the webhook over). */
export async function renewLease(context: ProducerContext, owner: string, webhookId: string, now: number): Promise<boolean> {
  const result = await context.database.db
    .updateTable('webhooks')
    .set({ lease_until: now + context.settings.leaseMs })
    .where('id', '=', webhookId)
    .where('lease_owner', '=', owner)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Gives up this process's lease of a webhook, so another process may deliver to it at once. The webhook joins the back
 * of the queue: it waits from now, or from its retry's time when one is scheduled.
 */
export async function releaseWebhook(context: ProducerContext, owner: string, webhookId: string): Promise<void> {
  const { database } = context;
  const now = context.now();
  await database.db
    .updateTable('webhooks')
    .set({ lease_owner: null, lease_until: null, waiting_since: database.greatest(sql<number>`COALESCE(next_attempt_at, 0)`, now) })
    .where('id', '=', webhookId)
    .where('lease_owner', '=', owner)
    .execute()
    // Not given back (the database is unreachable): the lease expires by itself, or its owner's session ends.
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
