// The enrollment rows and instance counts a group's enrollment actions write: kept in the group and written once at its
// end (one statement on PostgreSQL), while the group's later actions read them as written.
import { type Selectable, sql } from 'kysely';
import type { Database } from '../store/database.ts';
import type { EnrollmentsTable, ProducerSchema } from '../store/schema.ts';
import type { Enrollment, Instance } from './domain.ts';
import { chunks } from './event-log.ts';
import type { Trx } from './run-action.ts';

type Counts = Pick<Instance, 'enrollmentCount' | 'waitlistCount' | 'updatedAt'>;

/** Every column of the enrollments table: the upsert writes them all, and the enrollment rules' joined read reads them. */
export const enrollmentColumnSet = {
  account_id: true,
  user_id: true,
  lo_instance_id: true,
  lo_id: true,
  lo_type: true,
  enrollment_source: true,
  state: true,
  parent_instance_id: true,
  progress_percent: true,
  has_passed: true,
  date_enrolled: true,
  date_started: true,
  date_completed: true,
  updated_at: true,
} satisfies Record<keyof EnrollmentsTable, true>;
const enrollmentColumns = Object.keys(enrollmentColumnSet) as (keyof EnrollmentsTable)[];
const enrollmentKey: readonly (keyof EnrollmentsTable)[] = ['account_id', 'user_id', 'lo_instance_id'];
/** The upsert's text around its rows, built once (the query builder spent ~45 µs compiling one row's upsert). */
const upsertHead = sql.raw(`insert into enrollments (${enrollmentColumns.join(', ')}) values `);
const upsertTail = sql.raw(
  ` on conflict (${enrollmentKey.join(', ')}) do update set ${enrollmentColumns
    .filter((column) => !enrollmentKey.includes(column))
    .map((column) => `${column} = excluded.${column}`)
    .join(', ')}`,
);
/** Rows per statement: 14 parameters each stays far below both stores' limits on parameters. */
const rowsPerStatement = 1000;

function rowOf(enrollment: Enrollment): Selectable<EnrollmentsTable> {
  return {
    account_id: enrollment.accountId,
    user_id: enrollment.userId,
    lo_instance_id: enrollment.loInstanceId,
    lo_id: enrollment.loId,
    lo_type: enrollment.loType,
    enrollment_source: enrollment.enrollmentSource,
    state: enrollment.state,
    parent_instance_id: enrollment.parentInstanceId,
    progress_percent: enrollment.progressPercent,
    has_passed: enrollment.hasPassed === null ? null : enrollment.hasPassed ? 1 : 0,
    date_enrolled: enrollment.dateEnrolled,
    date_started: enrollment.dateStarted,
    date_completed: enrollment.dateCompleted,
    updated_at: enrollment.updatedAt,
  };
}

const keyOf = (userId: number, instanceId: string) => `${userId} ${instanceId}`;

/**
 * What the enrollment actions of one group have written and the store has not yet seen. Each action reads its rows
 * through `enrollment` and `instance`, so it sees the writes of the actions before it; `write` stores them all and
 * forgets them, at the group's end and before any write of the group that reads the tables itself.
 */
export class StagedEnrollments {
  readonly #enrollments = new Map<string, Enrollment>();
  readonly #counts = new Map<string, Counts>();

  /** Keeps an action's enrollment rows (each replacing its user's row in its instance) and an instance's new counts. */
  stage(enrollments: readonly Enrollment[], counts: ({ instanceId: string } & Counts) | null): void {
    for (const enrollment of enrollments) this.#enrollments.set(keyOf(enrollment.userId, enrollment.loInstanceId), enrollment);
    if (counts) {
      const { instanceId, ...values } = counts;
      this.#counts.set(instanceId, values);
    }
  }

  /** The learner's enrollment in the instance as this group last wrote it, else `stored` (as read from the store). */
  enrollment(userId: number, instanceId: string, stored: Enrollment | null): Enrollment | null {
    return this.#enrollments.get(keyOf(userId, instanceId)) ?? stored;
  }

  /** The instance with the counts this group last wrote for it. */
  instance(stored: Instance): Instance {
    const counts = this.#counts.get(stored.id);
    return counts ? { ...stored, ...counts } : stored;
  }

  /** Writes what is staged and forgets it: on PostgreSQL in one statement, the instances' updates in its WITH. */
  async write(trx: Trx, database: Pick<Database<ProducerSchema>, 'writesInWith'>): Promise<void> {
    const updates = [...this.#counts].map(
      ([id, counts]) =>
        sql`update lo_instances set enrollment_count = ${counts.enrollmentCount}, waitlist_count = ${counts.waitlistCount}, updated_at = ${counts.updatedAt} where id = ${id}`,
    );
    const rows = [...this.#enrollments.values()].map(rowOf);
    this.#enrollments.clear();
    this.#counts.clear();
    const upserts = chunks(rows, rowsPerStatement).map(
      (chunk) =>
        sql`${upsertHead}${sql.join(chunk.map((row) => sql`(${sql.join(enrollmentColumns.map((column) => row[column]))})`))}${upsertTail}`,
    );
    const [first, ...rest] = upserts;
    if (database.writesInWith && first && updates.length > 0) {
      const parts = updates.map((update, index) => sql`${sql.raw(`counts_${index}`)} as (${update})`);
      await sql`with ${sql.join(parts)} ${first}`.execute(trx);
      for (const upsert of rest) await upsert.execute(trx);
      return;
    }
    for (const statement of [...updates, ...upserts]) await statement.execute(trx);
  }
}
