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

/**
 * The SQL type of each column a delivery loop writes. A multi-row write casts its values to them: PostgreSQL types a
 * VALUES list by its values, and a column of nulls alone would be text.
 */
const deliveryColumnTypes = {
  cursor: 'bigint',
  delivery_seq: 'bigint',
  batch_id: 'text',
  batch_seqs: 'text',
  batch_first_seq: 'bigint',
  batch_last_seq: 'bigint',
  batch_delivery_first: 'bigint',
  batch_delivery_last: 'bigint',
  batch_replay: 'bigint',
  batch_attempts: 'bigint',
  batch_plan: 'text',
  next_attempt_at: 'bigint',
  failing_since: 'bigint',
  last_reminder_at: 'bigint',
  replay_cursor: 'bigint',
  replay_until: 'bigint',
  lease_until: 'bigint',
} as const satisfies { [Column in keyof WebhooksTable]?: 'bigint' | 'text' };

type DeliveryColumn = keyof typeof deliveryColumnTypes;

/** The columns a delivery loop writes; one it leaves out keeps the row's value. */
export type DeliveryColumns = Pick<Updateable<WebhooksTable>, DeliveryColumn>;

/** The most writes in one statement: 200 writes bind at most 38 values each (4, and 2 per column), well under SQLite's 32,766 parameters. */
export const leasedWritesPerStatement = 200;

/** One `updateLeasedWebhook`, as data, so the writes of several webhooks can be made in one statement. */
export interface LeasedWrite {
  owner: string;
  webhookId: string;
  expected: ExpectedRow;
  columns: DeliveryColumns;
}

/**
 * Makes several `updateLeasedWebhook` writes, each as it would alone, in one statement: an UPDATE joined to a VALUES
 * list of the writes (one round trip, atomic without a transaction). Whether each applied, in order. A column a write
 * leaves out keeps the row's value (a flag per write says which it sets, when the writes differ). Throws on two
 * writes of one webhook, as a row joined to two VALUES rows would take either's columns: StagedGroups then makes
 * each write alone, in order.
 */
export async function updateLeasedWebhooks(db: Kysely<ProducerSchema>, writes: readonly LeasedWrite[]): Promise<boolean[]> {
  const [only] = writes;
  if (writes.length === 1 && only) return [await updateLeasedWebhook(db, only.owner, only.webhookId, only.expected, only.columns)];
  if (writes.length > leasedWritesPerStatement)
    throw new Error(`${writes.length} writes in one statement: at most ${leasedWritesPerStatement}`);
  if (new Set(writes.map((write) => write.webhookId)).size < writes.length) throw new Error('two writes of one webhook in one statement');
  const columns = (Object.keys(deliveryColumnTypes) as DeliveryColumn[])
    .filter((column) => writes.some((write) => write.columns[column] !== undefined))
    .map((column) => ({ column, everywhere: writes.every((write) => write.columns[column] !== undefined) }));
  // VALUES names its columns column1, column2… on both dialects: the webhook, what it must hold, then each column's
  // value, followed by its flag when some write leaves it out.
  const rows = writes.map(({ owner, webhookId, expected, columns: values }) => {
    const cells = [
      sql`cast(${webhookId} as text)`,
      sql`cast(${owner} as text)`,
      sql`cast(${expected.batchId} as text)`,
      sql`cast(${expected.deliverySeq ?? null} as bigint)`,
    ];
    for (const { column, everywhere } of columns) {
      cells.push(sql`cast(${values[column] ?? null} as ${sql.raw(deliveryColumnTypes[column])})`);
      if (!everywhere) cells.push(sql`cast(${values[column] === undefined ? 0 : 1} as integer)`);
    }
    return sql`(${sql.join(cells)})`;
  });
  let position = 4;
  const assignments = columns.map(({ column, everywhere }) => {
    const value = sql.raw(`v.column${++position}`);
    if (everywhere) return sql`${sql.id(column)} = ${value}`;
    const flag = sql.raw(`v.column${++position}`);
    return sql`${sql.id(column)} = case when ${flag} = 1 then ${value} else ${sql.ref(`webhooks.${column}`)} end`;
  });
  // IS NOT DISTINCT FROM (SQLite has it since 3.39): a null batch expected matches only a row without one.
  const { rows: applied } = await sql<{ id: string }>`
    update webhooks set ${sql.join(assignments)}
    from (values ${sql.join(rows)}) as v
    where webhooks.id = v.column1 and webhooks.lease_owner = v.column2 and webhooks.batch_id is not distinct from v.column3
      and (v.column4 is null or webhooks.delivery_seq = v.column4)
    returning webhooks.id`.execute(db);
  const ids = new Set(applied.map((row) => row.id));
  return writes.map((write) => ids.has(write.webhookId));
}
