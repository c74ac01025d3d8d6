// Accounts: create, read, change status. Only ACTIVE accounts produce and receive events (SPEC §3).
import type { Selectable } from 'kysely';
import type { ProducerContext } from '../context.ts';
import { conflict, invalidInput, notFound } from '../errors.ts';
import { hashToken, newToken } from '../secrets/account-token.ts';
import { isUniqueViolation } from '../store/constraint-errors.ts';
import type { AccountStatus, AccountsTable } from '../store/schema.ts';
import { maxId } from './domain.ts';

export interface Account {
  id: number;
  name: string;
  status: AccountStatus;
  contactEmail: string | null;
  createdAt: string;
  updatedAt: string;
}

export function toAccount(row: Selectable<AccountsTable>): Account {
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    contactEmail: row.contact_email,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

export interface NewAccount {
  id?: number;
  name: string;
  status?: AccountStatus;
  contactEmail?: string | null;
}

/** Automatic ids start here on both stores. */
const firstAutomaticId = 1001;

/**
 * Creates an account with the given id, or with the next id after the highest one (so an explicit id never
 * collides with a later automatic one). Creations are serialised by a named lock; a duplicate that still slips
 * through (another process) is a conflict, never a crash.
 */
export async function createAccount(context: ProducerContext, input: NewAccount): Promise<Account & { token: string }> {
  const now = context.now();
  const token = newToken('lh_acct');
  const values = {
    name: input.name,
    status: input.status ?? 'ACTIVE',
    contact_email: input.contactEmail ?? null,
    // Only the hash is kept: the token is returned once, here.
    token_hash: hashToken(token),
    created_at: now,
    updated_at: now,
  };
  const taken = () => conflict(`account ${input.id} exists already`, 'account_exists');
  if (input.id !== undefined && (!Number.isSafeInteger(input.id) || input.id < 1 || input.id > maxId))
    throw invalidInput(`account ids run from 1 to ${maxId}; ${input.id} is outside`);
  try {
    const row = await context.database.db.transaction().execute(async (trx) => {
      await context.database.lockName(trx, 'accounts');
      let id = input.id;
      if (id === undefined) {
        const highest = await trx
          .selectFrom('accounts')
          .select((eb) => eb.fn.max('id').as('id'))
          .executeTakeFirst();
        id = Math.max(Number(highest?.id ?? 0), firstAutomaticId - 1) + 1;
        if (id > maxId)
          throw conflict(
            `no automatic account id is left: ids run from 1 to ${maxId} and account ${maxId} exists; give an explicit "id"`,
            'account_ids_exhausted',
          );
      } else if (await trx.selectFrom('accounts').select('id').where('id', '=', id).executeTakeFirst()) {
        throw taken();
      }
      return trx
        .insertInto('accounts')
        .values({ ...values, id })
        .returningAll()
        .executeTakeFirstOrThrow();
    });
    return { ...toAccount(row), token };
  } catch (error) {
    if (isUniqueViolation(error)) throw taken();
    throw error;
  }
}

export async function getAccount(context: ProducerContext, accountId: number): Promise<Account> {
  const row = await context.database.db.selectFrom('accounts').selectAll().where('id', '=', accountId).executeTakeFirst();
  if (!row) throw notFound(`account ${accountId}`);
  return toAccount(row);
}

export async function listAccounts(context: ProducerContext): Promise<Account[]> {
  const rows = await context.database.db.selectFrom('accounts').selectAll().orderBy('id').execute();
  return rows.map(toAccount);
}

export async function updateAccount(
  context: ProducerContext,
  accountId: number,
  changes: { name?: string; status?: AccountStatus; contactEmail?: string | null },
): Promise<Account> {
  const update: Partial<Pick<Selectable<AccountsTable>, 'name' | 'status' | 'contact_email' | 'updated_at'>> = {
    updated_at: context.now(),
  };
  if (changes.name !== undefined) update.name = changes.name;
  if (changes.status !== undefined) update.status = changes.status;
  if (changes.contactEmail !== undefined) update.contact_email = changes.contactEmail;
  const row = await context.database.db.updateTable('accounts').set(update).where('id', '=', accountId).returningAll().executeTakeFirst();
  if (!row) throw notFound(`account ${accountId}`);
  if (changes.status !== undefined) context.signals.emit('events-appended', [accountId]);
  return toAccount(row);
}
