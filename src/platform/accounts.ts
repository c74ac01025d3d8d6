// Accounts: create, read, change status. Only ACTIVE accounts produce and receive events (SPEC §3).
import type { Selectable } from 'kysely';
import { newToken } from '../api/auth.ts';
import type { ProducerContext } from '../context.ts';
import { conflict, notFound } from '../errors.ts';
import type { AccountStatus, AccountsTable } from '../store/schema.ts';

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

export async function createAccount(context: ProducerContext, input: NewAccount): Promise<Account & { token: string }> {
  const now = context.now();
  const token = newToken('lh_acct');
  const values = {
    name: input.name,
    status: input.status ?? 'ACTIVE',
    contact_email: input.contactEmail ?? null,
    token,
    created_at: now,
    updated_at: now,
  };
  if (input.id !== undefined) {
    const taken = await context.database.db.selectFrom('accounts').select('id').where('id', '=', input.id).executeTakeFirst();
    if (taken) throw conflict(`account ${input.id} exists already`, 'account_exists');
  }
  const row = await context.database.db
    .insertInto('accounts')
    .values(input.id === undefined ? values : { ...values, id: input.id })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { ...toAccount(row), token };
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
