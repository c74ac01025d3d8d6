// Group commit of the platform's writes (actions, raw publishing): requests that arrive together share one transaction that locks their accounts in id order and appends to each log once.
import type { EventEmitter } from 'node:events';
import type { Insertable, Selectable, Transaction } from 'kysely';
import type { ProducerSignals } from '../context.ts';
import type { Database } from '../store/database.ts';
import { GroupCommit, type GroupWriteOptions } from '../store/group-commit.ts';
import type { AccountsTable, ProducerSchema, ScheduledEventsTable } from '../store/schema.ts';
import { type LogHead, type StagedAppend, writeAppends } from './event-log.ts';
import { type EnrollmentRead, EnrollmentReads } from './run-enrollment-action.ts';
import { StagedEnrollments } from './staged-enrollments.ts';

/** What the writes of one group share: their accounts, locked, and what they stage for the group to write at once. */
export interface AccountGroup {
  /** The group's accounts as locked, by id; an id that is missing names no account. */
  readonly accounts: ReadonlyMap<number, Selectable<AccountsTable>>;
  /** Events to append, in the order of the writes that staged them; each result is filled in before commit. */
  readonly appends: StagedAppend[];
  /** Events held back until they are due (scheduled_events rows). */
  readonly scheduled: Insertable<ScheduledEventsTable>[];
  /** Enrollment rows and instance counts the group's enrollment actions wrote, stored at its end. */
  readonly enrollments: StagedEnrollments;
  /** The joined reads of the group's enrollment actions, read together where statements are round trips. */
  readonly enrollmentReads: EnrollmentReads;
}

export interface AccountWriteOptions extends GroupWriteOptions {
  /**
   * The write reads enrollments and instances through the group's `enrollments`. Any other write that issues
   * statements first has the staged rows stored, so it reads and changes those tables as the earlier writes left them.
   */
  readsStagedEnrollments?: boolean;
  /** An enrollment action's read, told in advance so the group can read it with the others' (`EnrollmentReads`). */
  note?: EnrollmentRead;
}

export type AccountWrite<T> = (trx: Transaction<ProducerSchema>, group: AccountGroup) => Promise<T>;

/**
 * The one door for writes that lock an account. PostgreSQL: every group locks all its accounts first, in ascending id
 * order, so groups of different processes never deadlock; each log's sequence moves only under its account's lock,
 * so a reader never sees seq n+1 before n. The group's events go in one multi-row insert at the end.
 */
export class AccountWrites {
  readonly #commits: GroupCommit<ProducerSchema, AccountGroup>;

  readonly #database: Database<ProducerSchema>;

  constructor(database: Database<ProducerSchema>, signals: EventEmitter<ProducerSignals>, groupsInFlight: number) {
    this.#database = database;
    this.#commits = new GroupCommit<ProducerSchema, AccountGroup>(database.db, {
      groupsInFlight,
      // PostgreSQL: a group is a chain of round trips, so a group of one that starts early costs nearly as much as a
      // full one; waiting up to a millisecond for the writes of the callers just answered gave one busy account
      // 1.2-1.4x the enrollments. SQLite's statements are calls within the process: waiting would only idle it.
      lingerMs: database.concurrentWrites ? 1 : 0,
      frame: {
        async open(trx, accountIds, notes) {
          const rows =
            accountIds.length === 0
              ? []
              : await database
                  .lockRows(
                    trx
                      .selectFrom('accounts')
                      .selectAll()
                      .where('id', 'in', [...accountIds])
                      .orderBy('id'),
                  )
                  .execute();
          return {
            accounts: new Map(rows.map((row) => [row.id, row])),
            appends: [],
            scheduled: [],
            enrollments: new StagedEnrollments(),
            // SQLite's statements are calls within the process: one read per action costs no more there.
            enrollmentReads: new EnrollmentReads(database.concurrentWrites ? (notes as EnrollmentRead[]) : []),
          };
        },
        async close(trx, group) {
          await group.enrollments.write(trx, database);
          if (group.appends.length > 0) {
            const heads = new Map<number, LogHead>();
            for (const append of group.appends) {
              const account = group.accounts.get(append.accountId);
              if (account) heads.set(account.id, { lastSeq: account.last_seq, lastEventAt: account.last_event_at });
            }
            await writeAppends(trx, group.appends, heads, database);
          }
          for (let start = 0; start < group.scheduled.length; start += 500)
            await trx
              .insertInto('scheduled_events')
              .values(group.scheduled.slice(start, start + 500))
              .execute();
        },
        committed(group) {
          const appended = new Set(group.appends.filter((append) => append.result.seqs.length > 0).map((append) => append.accountId));
          if (appended.size > 0) signals.emit('events-appended', [...appended]);
        },
      },
    });
  }

  /** Runs `write` in the next group, with `accountId` locked; resolves with its result once the group has committed. */
  run<T>(accountId: number, write: AccountWrite<T>, options: AccountWriteOptions = {}): Promise<T> {
    const { readsStagedEnrollments, ...groupOptions } = options;
    // An enrollment action reads through the staged rows, and a write that issues no statements reads no table:
    // for either, the staged rows can wait for the group's end.
    const afterStaged: AccountWrite<T> =
      readsStagedEnrollments || groupOptions.stagesOnly
        ? write
        : async (trx, group) => {
            await group.enrollments.write(trx, this.#database);
            // This write may change what the group's enrollment actions read: those after it read for themselves.
            group.enrollmentReads.forget();
            return write(trx, group);
          };
    return this.#commits.run(afterStaged, [accountId], groupOptions);
  }
}
