// Time partitions of the account log and the attempts log on PostgreSQL (migration 0010): which partitions to create
// ahead of time and which are wholly out of retention (pure), and listing, creating and dropping them.
import { type Kysely, sql, type Transaction } from 'kysely';

/** A partition's range of times: from `from` (inclusive) to `to` (exclusive), epoch milliseconds. */
export interface TimeRange {
  from: number;
  to: number;
}

export interface Partition extends TimeRange {
  name: string;
}

/** A log partitioned by time, the column it is partitioned by, and the table its foreign key refers to. */
export interface PartitionedLog {
  table: 'events' | 'delivery_attempts';
  column: 'created_at' | 'started_at';
  references: 'accounts' | 'webhooks';
}

export const partitionedLogs: readonly PartitionedLog[] = [
  { table: 'events', column: 'created_at', references: 'accounts' },
  { table: 'delivery_attempts', column: 'started_at', references: 'webhooks' },
];

/** The partition holding the rows no other partition covers; retention deletes its expired rows one by one. */
export function defaultPartition(log: PartitionedLog): string {
  return `${log.table}_default`;
}

/**
 * A seventh of retention: one day at the default 7 days. A partition is dropped once its newest row is out of
 * retention, so the log holds at most a seventh more than retention; and a log spans about ten partitions (seven in
 * retention, the one retention cuts, those ahead), few enough that a lookup by account touching each one stays cheap.
 */
export function partitionWidth(retentionMs: number): number {
  return Math.max(1, Math.ceil(retentionMs / 7));
}

/** Partitions kept ready ahead of now, so inserts keep landing in partitions while housekeeping is held up. */
const widthsAhead = 2;

/**
 * The partitions to create so that every time up to `widthsAhead` widths after now has one: contiguous from the end of
 * the newest partition, or, when there is none or the clock has passed them, from the first multiple of the width
 * after now, ending on multiples of the width. Only times still to come: no row is ever moved out of the DEFAULT
 * partition (a query planned before the move would miss the moved rows), so the rows a time without a partition
 * received stay there until retention deletes them. Never more than `widthsAhead` partitions, whatever the clock does.
 */
export function partitionsToCreate(existing: readonly TimeRange[], now: number, width: number): TimeRange[] {
  const horizon = now + widthsAhead * width;
  let from = (Math.floor(now / width) + 1) * width;
  for (const partition of existing) if (partition.to > now) from = Math.max(from, partition.to);
  const ranges: TimeRange[] = [];
  while (from < horizon) {
    const to = (Math.floor(from / width) + 1) * width;
    ranges.push({ from, to });
    from = to;
  }
  return ranges;
}

/** The partitions wholly out of retention: every row they can hold was created before the cutoff. */
export function partitionsToDrop<P extends TimeRange>(existing: readonly P[], cutoff: number): P[] {
  return existing.filter((partition) => partition.to <= cutoff);
}

/**
 * How long creating or dropping a partition waits for its lock before giving up until the next pass. A waiting request
 * for an exclusive lock queues every later query of the log behind it, so it must be short; and shorter than
 * PostgreSQL's deadlock_timeout (1 s), so a writer is never the one a deadlock check would cancel.
 */
const lockTimeout = '100ms';

/**
 * PostgreSQL's lock_not_available (the lock was not had within `lockTimeout`) or check_violation (the DEFAULT partition
 * holds a row of a partition being attached): the next pass tries again.
 */
function isRetriedNextPass(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '55P03' || code === '23514';
}

// biome-ignore lint/suspicious/noExplicitAny: the partitions are tables the schema does not name.
type AnyDatabase = Kysely<any>;

/** The log's range partitions (the DEFAULT one left out), oldest first. */
export async function listPartitions(db: AnyDatabase, log: PartitionedLog): Promise<Partition[]> {
  const { rows } = await sql<{ name: string; bound: string }>`
    SELECT child.relname AS name, pg_get_expr(child.relpartbound, child.oid) AS bound
    FROM pg_inherits JOIN pg_class child ON child.oid = pg_inherits.inhrelid
    WHERE pg_inherits.inhparent = ${log.table}::regclass`.execute(db);
  const partitions: Partition[] = [];
  for (const { name, bound } of rows) {
    const range = /FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)/.exec(bound);
    if (range) partitions.push({ name, from: Number(range[1]), to: Number(range[2]) });
  }
  return partitions.sort((a, b) => a.from - b.from);
}

/**
 * Creates the log's (empty) partition for a range still to come and attaches it. Attaching locks the table the foreign
 * key refers to (against its writers) and the DEFAULT partition (to check it holds no row of the range), so both are
 * taken first, in the order writers take them: taken later, a writer holding one and waiting for the other would
 * deadlock with this. Returns the partition's name, or null when a lock was not had in time or the DEFAULT partition
 * holds rows of the range (a clock ahead of this one): the next pass tries again.
 */
export async function createPartition(db: AnyDatabase, log: PartitionedLog, range: TimeRange): Promise<string | null> {
  const name = `${log.table}_${String(range.from).replace('-', 'm')}`;
  const created = await withLockTimeout(db, async (trx) => {
    await sql`LOCK TABLE ${sql.id(log.references)} IN SHARE ROW EXCLUSIVE MODE`.execute(trx);
    await sql`LOCK TABLE ${sql.id(defaultPartition(log))} IN ACCESS EXCLUSIVE MODE`.execute(trx);
    await sql`CREATE TABLE ${sql.id(name)} (LIKE ${sql.id(log.table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`.execute(trx);
    await sql`ALTER TABLE ${sql.id(log.table)} ATTACH PARTITION ${sql.id(name)}
              FOR VALUES FROM (${sql.lit(range.from)}) TO (${sql.lit(range.to)})`.execute(trx);
  });
  return created ? name : null;
}

/**
 * Drops a partition: its rows go at once, without deleting them one by one (no dead rows left for VACUUM). Dropping
 * locks the whole log for an instant, taken first (before the partition's own lock, as every query of the log takes
 * them). Returns false when the lock was not had in time (next pass, then).
 */
export async function dropPartition(db: AnyDatabase, log: PartitionedLog, partition: Partition): Promise<boolean> {
  return withLockTimeout(db, async (trx) => {
    await sql`LOCK TABLE ONLY ${sql.id(log.table)} IN ACCESS EXCLUSIVE MODE`.execute(trx);
    await sql`DROP TABLE ${sql.id(partition.name)}`.execute(trx);
  });
}

/** Runs a transaction whose locks are waited for at most `lockTimeout`; false when it is to be tried at the next pass. */
async function withLockTimeout(db: AnyDatabase, work: (trx: Transaction<unknown>) => Promise<void>): Promise<boolean> {
  try {
    await db.transaction().execute(async (trx) => {
      await sql.raw(`SET LOCAL lock_timeout = '${lockTimeout}'`).execute(trx);
      await work(trx);
    });
    return true;
  } catch (error) {
    if (isRetriedNextPass(error)) return false;
    throw error;
  }
}
