// The frame of every enrollment action: load what the enrollment rules look at, apply one, write its rows, in one transaction.

import { type Selectable, sql } from 'kysely';
import type { ProducerContext } from '../context.ts';
import { conflict, notFound } from '../errors.ts';
import type { DatabaseCapabilities } from '../store/database.ts';
import type { EnrollmentsTable, LearningObjectsTable, LoInstancesTable } from '../store/schema.ts';
import type { AccountGroup } from './account-writes.ts';
import { type Actor, type Enrollment, type Instance, type LearningObject, toEnrollment, toInstance, toLearningObject } from './domain.ts';
import { loadInstance } from './instances.ts';
import { loadLearningObject } from './learning-objects.ts';
import type * as rules from './rules/enrollments.ts';
import type { RuleOutcome } from './rules/outcome.ts';
import { randomFor, runAction, type Trx } from './run-action.ts';
import { enrollmentColumnSet, type StagedEnrollments } from './staged-enrollments.ts';

async function loadEnrollment(trx: Trx, accountId: number, userId: number, loInstanceId: string): Promise<Enrollment | null> {
  const row = await trx
    .selectFrom('enrollments')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('user_id', '=', userId)
    .where('lo_instance_id', '=', loInstanceId)
    .executeTakeFirst();
  return row ? toEnrollment(row) : null;
}

/** A course's default instance: the one marked default, else its oldest live instance. */
async function defaultInstance(trx: Trx, courseId: string): Promise<Instance | null> {
  const rows = await trx
    .selectFrom('lo_instances')
    .selectAll()
    .where('lo_id', '=', courseId)
    .where('state', '!=', 'deleted')
    .orderBy('is_default', 'desc')
    .orderBy('num')
    .limit(1)
    .execute();
  return rows[0] ? toInstance(rows[0]) : null;
}

async function loadChildren(
  trx: Trx,
  staged: StagedEnrollments,
  accountId: number,
  parent: LearningObject,
  userId: number,
): Promise<rules.ChildCourse[]> {
  const children: rules.ChildCourse[] = [];
  for (const courseId of parent.children) {
    const course = await loadLearningObject(trx, accountId, courseId);
    const stored = await defaultInstance(trx, courseId);
    const instance = stored && staged.instance(stored);
    const enrollment = instance && staged.enrollment(userId, instance.id, await loadEnrollment(trx, accountId, userId, instance.id));
    children.push({ course, instance, enrollment });
  }
  return children;
}

/** Every column of each table the enrollment rules read, so one statement can fetch their rows side by side. */
const columnsOf = {
  i: {
    num: true,
    id: true,
    lo_id: true,
    account_id: true,
    name: true,
    seat_limit: true,
    waitlist_limit: true,
    self_paced: true,
    is_default: true,
    state: true,
    enrollment_count: true,
    waitlist_count: true,
    enrollment_deadline: true,
    created_at: true,
    updated_at: true,
    deleted_at: true,
  } satisfies Record<keyof LoInstancesTable, true>,
  lo: {
    num: true,
    id: true,
    account_id: true,
    lo_type: true,
    name: true,
    description: true,
    state: true,
    children: true,
    duration: true,
    created_at: true,
    published_at: true,
    updated_at: true,
    deleted_at: true,
  } satisfies Record<keyof LearningObjectsTable, true>,
  e: enrollmentColumnSet,
};
/** The column names of each, listed once: the joined read's select list and its split use them. */
const columnNames = Object.fromEntries(Object.entries(columnsOf).map(([table, columns]) => [table, Object.keys(columns)])) as {
  [Table in keyof typeof columnsOf]: (keyof (typeof columnsOf)[Table])[];
};
const selectList = sql.raw(
  Object.entries(columnNames)
    .flatMap(([table, columns]) => columns.map((column) => `${table}.${String(column)} as ${table}__${String(column)}`))
    .join(', '),
);

/** The columns of one table (`prefix`) in a row of the joined read, under their own names. */
function part<Row>(row: Record<string, unknown>, prefix: keyof typeof columnsOf): Row {
  return Object.fromEntries(columnNames[prefix].map((column) => [column, row[`${prefix}__${String(column)}`]])) as Row;
}

/** The learner's state, the instance, its learning object and the learner's enrollment, from a row of the joined read. */
function joinedOf(row: Record<string, unknown>) {
  return {
    userState: row.u__state as string,
    instance: toInstance(part<Selectable<LoInstancesTable>>(row, 'i')),
    lo: toLearningObject(part<Selectable<LearningObjectsTable>>(row, 'lo')),
    enrollment: row.e__account_id === null ? null : toEnrollment(part<Selectable<EnrollmentsTable>>(row, 'e')),
  };
}
type Joined = ReturnType<typeof joinedOf>;

/**
 * The learner's state, the instance, its learning object and the learner's enrollment in it, in one statement (one
 * round trip instead of four); undefined when the learner or the instance is missing, so the caller can say which.
 */
async function loadJoined(trx: Trx, accountId: number, userId: number, loInstanceId: string): Promise<Joined | undefined> {
  const { rows } = await sql<Record<string, unknown>>`
    select u.state as u__state, ${selectList}
    from lo_instances i
    join learning_objects lo on lo.account_id = i.account_id and lo.id = i.lo_id
    join users u on u.account_id = i.account_id and u.id = ${userId}
    left join enrollments e on e.account_id = i.account_id and e.user_id = u.id and e.lo_instance_id = i.id
    where i.account_id = ${accountId} and i.id = ${loInstanceId}`.execute(trx);
  const [row] = rows;
  return row && joinedOf(row);
}

/** What an enrollment action will read: told to its group in advance, so the group can read it with the others'. */
export interface EnrollmentRead {
  accountId: number;
  userId: number;
  loInstanceId: string;
}

const readKey = (read: EnrollmentRead) => `${read.accountId}:${read.userId}:${read.loInstanceId}`;

/**
 * The joined reads of a group's enrollment actions, made in one statement when the first action needs its own (one
 * round trip for the group instead of one per action, where statements are round trips). The rows are as the group
 * found them; each action sees the group's own changes through the staged rows, as it would with a read of its own.
 * A write of the group that changes the tables itself makes them stale: `forget` drops them, and the actions after it
 * read for themselves.
 */
export class EnrollmentReads {
  #wanted: readonly EnrollmentRead[];
  readonly #keys: Set<string>;
  #read: Map<string, Joined> | undefined;

  /** `wanted`: the reads of the group's enrollment actions; fewer than two are not worth a statement of their own. */
  constructor(wanted: readonly EnrollmentRead[]) {
    this.#wanted = wanted.length > 1 ? wanted : [];
    this.#keys = new Set(this.#wanted.map(readKey));
  }

  forget(): void {
    this.#keys.clear();
    this.#read = undefined;
  }

  /** The read, from the group's (made now if it is the first): `found` undefined when the learner or instance is missing; undefined when the group does not read it. */
  async take(trx: Trx, database: DatabaseCapabilities, read: EnrollmentRead): Promise<{ found: Joined | undefined } | undefined> {
    const key = readKey(read);
    if (!this.#keys.has(key)) return undefined;
    if (!this.#read) {
      // One text for every group size: a plan made once fits them all, where a plan made for each call's keys took
      // ~0.4-0.7 ms of planning (PostgreSQL keeps custom plans for a list of keys unless told otherwise).
      await database.planOnce(trx);
      const { rows } = await sql<Record<string, unknown>>`
        select w.ord, u.state as u__state, ${selectList}
        from unnest(${this.#wanted.map((wanted) => wanted.accountId)}::bigint[], ${this.#wanted.map((wanted) => wanted.userId)}::bigint[],
          ${this.#wanted.map((wanted) => wanted.loInstanceId)}::text[]) with ordinality as w(account_id, user_id, lo_instance_id, ord)
        join lo_instances i on i.account_id = w.account_id and i.id = w.lo_instance_id
        join learning_objects lo on lo.account_id = i.account_id and lo.id = i.lo_id
        join users u on u.account_id = w.account_id and u.id = w.user_id
        left join enrollments e on e.account_id = i.account_id and e.user_id = u.id and e.lo_instance_id = i.id`.execute(trx);
      this.#read = new Map(rows.map((row) => [readKey(this.#wanted[Number(row.ord) - 1] as EnrollmentRead), joinedOf(row)]));
    }
    return { found: this.#read.get(key) };
  }
}

/** The learner, the instance and its learning object one by one, refusing with the first that is missing or deleted. */
async function loadEach(trx: Trx, accountId: number, userId: number, loInstanceId: string) {
  const user = await trx
    .selectFrom('users')
    .select(['id', 'state'])
    .where('account_id', '=', accountId)
    .where('id', '=', userId)
    .executeTakeFirst();
  if (!user) throw notFound(`user ${userId}`);
  const instance = await loadInstance(trx, accountId, loInstanceId);
  const lo = await loadLearningObject(trx, accountId, instance.loId);
  return { userState: user.state, instance, lo, enrollment: await loadEnrollment(trx, accountId, userId, loInstanceId) };
}

/**
 * Everything the enrollment rules look at: the LO, the instance, the learner's enrollment, the parent's or the
 * children's; enrollments and instance counts as the group's earlier actions left them (`staged`).
 */
async function loadState(
  trx: Trx,
  group: Pick<AccountGroup, 'enrollments' | 'enrollmentReads'>,
  database: DatabaseCapabilities,
  accountId: number,
  userId: number,
  loInstanceId: string,
): Promise<rules.EnrollmentState> {
  const staged = group.enrollments;
  const readAhead = await group.enrollmentReads.take(trx, database, { accountId, userId, loInstanceId });
  const joined = readAhead ? readAhead.found : await loadJoined(trx, accountId, userId, loInstanceId);
  const loaded = joined ?? (await loadEach(trx, accountId, userId, loInstanceId));
  const { userState, lo } = loaded;
  if (userState !== 'ACTIVE') throw conflict(`user ${userId} is ${userState.toLowerCase()}`, 'user_deleted');
  const instance = staged.instance(loaded.instance);
  const enrollment = staged.enrollment(userId, loInstanceId, loaded.enrollment);
  const isParent = lo.loType === 'learningProgram' || lo.loType === 'certification';
  const children = isParent ? await loadChildren(trx, staged, accountId, lo, userId) : [];
  let parent: rules.EnrollmentState['parent'] = null;
  if (enrollment?.parentInstanceId) {
    const parentInstance = staged.instance(await loadInstance(trx, accountId, enrollment.parentInstanceId));
    const parentLo = await loadLearningObject(trx, accountId, parentInstance.loId);
    const parentEnrollment = staged.enrollment(userId, parentInstance.id, await loadEnrollment(trx, accountId, userId, parentInstance.id));
    if (parentEnrollment)
      parent = {
        lo: parentLo,
        enrollment: parentEnrollment,
        children: await loadChildren(trx, staged, accountId, parentLo, userId),
      };
  }
  return { lo, instance, enrollment, children, parent };
}

export interface EnrollmentRequest {
  userId: number;
  loInstanceId: string;
  actor: Actor;
}

export type EnrollmentRule = (state: rules.EnrollmentState, now: number, random: () => number) => RuleOutcome<rules.EnrollmentChanges>;

/** Runs one enrollment rule on the learner's enrollment in an instance; returns that enrollment as written. */
export async function runEnrollmentAction(
  context: ProducerContext,
  accountId: number,
  name: string,
  request: EnrollmentRequest,
  rule: EnrollmentRule,
) {
  return runAction(
    context,
    accountId,
    `${name}-${accountId}`,
    async (trx, _account, now, group) => {
      const staged = group.enrollments;
      const state = await loadState(trx, group, context.database, accountId, request.userId, request.loInstanceId);
      const decided = rule(state, now, randomFor(context));
      const { counts } = decided.changes;
      staged.stage(decided.changes.enrollments, counts && { instanceId: state.instance.id, ...counts, updatedAt: now });
      // The rows are written whole, so the learner's enrollment is the rule's last change of it (no read back).
      const written =
        decided.changes.enrollments
          .filter((enrollment) => enrollment.userId === request.userId && enrollment.loInstanceId === request.loInstanceId)
          .at(-1) ?? state.enrollment;
      if (!written) throw new Error(`the rule left user ${request.userId} without an enrollment in ${request.loInstanceId}`);
      return { value: written, outcome: decided };
    },
    {
      readsStagedEnrollments: true,
      note: { accountId, userId: request.userId, loInstanceId: request.loInstanceId } satisfies EnrollmentRead,
    },
  );
}
