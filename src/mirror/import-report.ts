// Bulk path: imports the platform's CSV user report or training report into the mirror's tables, idempotently.
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import type { Transaction } from 'kysely';
import { type ReportKind, reportColumns } from '../catalog/report-columns.ts';
import type { Database } from '../store/database.ts';
import { emptyLearningObject, emptyLoInstance } from './reducer.ts';
import type { MirrorSchema } from './schema.ts';

export type { ReportKind };

export interface ImportResult {
  rows: number;
  users: number;
  learningObjects: number;
  instances: number;
}

export class ReportError extends Error {
  override name = 'ReportError';
}

type Row = Record<string, string>;
type Trx = Transaction<MirrorSchema>;

const orNull = (text: string | undefined) => (text === undefined || text === '' ? null : text);
const numberOrNull = (text: string | undefined) => (text === undefined || text === '' ? null : Number(text));
const timeOrNull = (text: string | undefined) => (text ? Date.parse(text) : null);

async function importUser(trx: Trx, accountId: number, row: Row, now: number): Promise<void> {
  const userId = Number(row.userId);
  if (!Number.isSafeInteger(userId) || userId < 1) throw new ReportError(`userId "${row.userId}" is not a positive whole number`);
  const fields = {
    name: orNull(row.name),
    email: orNull(row.email),
    user_unique_id: orNull(row.userUniqueId),
    user_type: orNull(row.userType),
    state: orNull(row.state),
    enriched_at: now,
  };
  await trx
    .insertInto('users')
    .values({ account_id: accountId, user_id: userId, time_zone_code: null, ...fields })
    .onConflict((conflict) => conflict.columns(['account_id', 'user_id']).doUpdateSet(fields))
    .execute();
}

/** Writes one (LO, instance) row; says whether it was the first row of its LO and whether it had an instance. */
async function importTraining(
  trx: Trx,
  accountId: number,
  row: Row,
  now: number,
  seen: Set<string>,
): Promise<{ lo: boolean; instance: boolean }> {
  const loId = row.loId ?? '';
  if (!/^\w+:\d+$/.test(loId)) throw new ReportError(`loId "${loId}" is not a learning object id`);
  const loType = orNull(row.loType) ?? loId.split(':')[0] ?? '';
  const firstOfLo = !seen.has(loId);
  if (firstOfLo) {
    seen.add(loId);
    const fields = {
      name: orNull(row.name),
      state: orNull(row.state),
      date_created: timeOrNull(row.dateCreated),
      date_updated: timeOrNull(row.dateUpdated),
      enriched_at: now,
    };
    await trx
      .insertInto('learning_objects')
      .values({ ...emptyLearningObject(accountId, loId, loType), ...fields })
      .onConflict((conflict) => conflict.columns(['account_id', 'lo_id']).doUpdateSet(fields))
      .execute();
  }
  const loInstanceId = orNull(row.loInstanceId);
  if (!loInstanceId) return { lo: firstOfLo, instance: false };
  const fields = {
    name: orNull(row.instanceName),
    state: orNull(row.instanceState),
    seat_limit: numberOrNull(row.seatLimit),
    waitlist_limit: numberOrNull(row.waitlistLimit),
    enriched_at: now,
  };
  await trx
    .insertInto('lo_instances')
    .values({ ...emptyLoInstance(accountId, loInstanceId, loId, loType), ...fields })
    .onConflict((conflict) => conflict.columns(['account_id', 'lo_instance_id']).doUpdateSet(fields))
    .execute();
  return { lo: firstOfLo, instance: true };
}

/**
 * Streams a report into the tables, 500 rows a transaction; running it again changes nothing. Rows only
 * fill enrichment columns (names, states, limits), never the event-derived ones.
 */
export async function importReport(
  database: Database<MirrorSchema>,
  kind: ReportKind,
  input: Readable,
  options: { accountId: number; now: number; onRows?: (rows: number) => void },
): Promise<ImportResult> {
  const result: ImportResult = { rows: 0, users: 0, learningObjects: 0, instances: 0 };
  const seen = new Set<string>();
  const parser = input.pipe(parse({ columns: true, skip_empty_lines: true, bom: true }));
  let chunk: Row[] = [];
  const flush = async () => {
    const rows = chunk;
    chunk = [];
    await database.db.transaction().execute(async (trx) => {
      for (const row of rows) {
        if (kind === 'users') {
          await importUser(trx, options.accountId, row, options.now);
          result.users++;
        } else {
          const written = await importTraining(trx, options.accountId, row, options.now, seen);
          if (written.lo) result.learningObjects++;
          if (written.instance) result.instances++;
        }
      }
    });
    result.rows += rows.length;
    options.onRows?.(result.rows);
  };
  let checkedHeader = false;
  for await (const record of parser as AsyncIterable<Row>) {
    if (!checkedHeader) {
      const missing = reportColumns[kind].filter((column) => !(column in record));
      if (missing.length > 0) throw new ReportError(`this is not a ${kind} report: the columns ${missing.join(', ')} are missing`);
      checkedHeader = true;
    }
    chunk.push(record);
    if (chunk.length >= 500) await flush();
  }
  if (chunk.length > 0) await flush();
  return result;
}
