// Learners of an account: create, read, list and delete. Users produce no events; the mirror learns them from the read API.
import { randomUUID } from 'node:crypto';
import type { ProducerContext } from '../context.ts';
import { conflict, notFound } from '../errors.ts';
import { isUniqueViolation } from '../store/constraint-errors.ts';
import { toUser, type User } from './domain.ts';

export interface NewUser {
  name: string;
  email: string;
  userUniqueId?: string;
}

export async function createUser(context: ProducerContext, accountId: number, input: NewUser): Promise<User> {
  const now = context.now();
  const db = context.database.db;
  // Checked first: otherwise the insert's foreign key fails and an unknown account answers 500 instead of 404.
  const account = await db.selectFrom('accounts').select('id').where('id', '=', accountId).executeTakeFirst();
  if (!account) throw notFound(`account ${accountId}`);
  const taken = await db
    .selectFrom('users')
    .select('id')
    .where('account_id', '=', accountId)
    .where('email', '=', input.email)
    .executeTakeFirst();
  if (taken) throw conflict(`a user with e-mail ${input.email} exists already in account ${accountId} (user ${taken.id})`, 'user_exists');
  // Another request may insert the same e-mail between the check and the insert: the unique key decides.
  const row = await db
    .insertInto('users')
    .values({
      account_id: accountId,
      name: input.name,
      email: input.email,
      user_unique_id: input.userUniqueId ?? randomUUID(),
      created_at: now,
      updated_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow()
    .catch((error: unknown) => {
      if (isUniqueViolation(error))
        throw conflict(`a user with e-mail ${input.email} exists already in account ${accountId}`, 'user_exists');
      throw error;
    });
  return toUser(row);
}

export async function getUser(context: ProducerContext, accountId: number, userId: number): Promise<User> {
  const row = await context.database.db
    .selectFrom('users')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', '=', userId)
    .executeTakeFirst();
  if (!row) throw notFound(`user ${userId}`);
  return toUser(row);
}

export interface UserPageOptions {
  /** Only this account's users; every account's when absent (the admin token on the read API). */
  accountId?: number;
  /** Users with an id above this one. */
  afterId?: number;
  limit: number;
  ids?: readonly number[];
}

/** A page of users in id order. */
export async function listUsers(context: ProducerContext, options: UserPageOptions): Promise<User[]> {
  let query = context.database.db.selectFrom('users').selectAll().orderBy('id').limit(options.limit);
  if (options.accountId !== undefined) query = query.where('account_id', '=', options.accountId);
  if (options.afterId !== undefined) query = query.where('id', '>', options.afterId);
  if (options.ids) query = query.where('id', 'in', options.ids.length > 0 ? [...options.ids] : [0]);
  return (await query.execute()).map(toUser);
}

/** Marks a user DELETED (the read API keeps showing it with that state, as the platform's does). */
export async function deleteUser(context: ProducerContext, accountId: number, userId: number): Promise<User> {
  const row = await context.database.db
    .updateTable('users')
    .set({ state: 'DELETED', updated_at: context.now() })
    .where('account_id', '=', accountId)
    .where('id', '=', userId)
    .returningAll()
    .executeTakeFirst();
  if (!row) throw notFound(`user ${userId}`);
  return toUser(row);
}
