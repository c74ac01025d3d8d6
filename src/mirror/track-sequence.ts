// Proves nothing was lost: follows each account's delivery sequence and opens or closes gaps in it.
import type { Transaction } from 'kysely';
import type { MirrorSchema } from './schema.ts';

export interface SequenceGap {
  accountId: number;
  firstMissing: number;
  lastMissing: number;
}

export interface SequenceChange {
  opened: SequenceGap[];
  closed: SequenceGap[];
}

/** The parts of [first, last] not covered by [coverFirst, coverLast]. */
export function subtractRange(first: number, last: number, coverFirst: number, coverLast: number): Array<[number, number]> {
  const rest: Array<[number, number]> = [];
  if (coverFirst > first) rest.push([first, Math.min(last, coverFirst - 1)]);
  if (coverLast < last) rest.push([Math.max(first, coverLast + 1), last]);
  return rest.filter(([a, b]) => a <= b);
}

/**
 * Records a batch's sequence range [first, last] for an account: a batch starting after the highest sequence
 * seen + 1 opens a gap of the missing range; a later batch (a replay) covering an open gap closes it, or
 * shrinks it when it covers only part.
 */
export async function trackSequence(
  trx: Transaction<MirrorSchema>,
  accountId: number,
  first: number,
  last: number,
  now: number,
): Promise<SequenceChange> {
  const change: SequenceChange = { opened: [], closed: [] };
  const mark = await trx.selectFrom('sequence_marks').select('highest_seq').where('account_id', '=', accountId).executeTakeFirst();
  const highest = mark?.highest_seq ?? 0;
  if (first > highest + 1) {
    const gap = { accountId, firstMissing: highest + 1, lastMissing: first - 1 };
    await trx
      .insertInto('sequence_gaps')
      .values({ account_id: accountId, first_missing: gap.firstMissing, last_missing: gap.lastMissing, opened_at: now, closed_at: null })
      .execute();
    change.opened.push(gap);
  }
  if (first <= highest) {
    const overlapping = await trx
      .selectFrom('sequence_gaps')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('closed_at', 'is', null)
      .where('first_missing', '<=', last)
      .where('last_missing', '>=', first)
      .execute();
    for (const gap of overlapping) {
      const rest = subtractRange(gap.first_missing, gap.last_missing, first, last);
      const [kept, split] = rest;
      if (!kept) {
        await trx.updateTable('sequence_gaps').set({ closed_at: now }).where('id', '=', gap.id).execute();
        change.closed.push({ accountId, firstMissing: gap.first_missing, lastMissing: gap.last_missing });
        continue;
      }
      await trx.updateTable('sequence_gaps').set({ first_missing: kept[0], last_missing: kept[1] }).where('id', '=', gap.id).execute();
      if (split) {
        await trx
          .insertInto('sequence_gaps')
          .values({ account_id: accountId, first_missing: split[0], last_missing: split[1], opened_at: gap.opened_at, closed_at: null })
          .execute();
      }
    }
  }
  if (!mark) {
    await trx.insertInto('sequence_marks').values({ account_id: accountId, highest_seq: last }).execute();
  } else if (last > highest) {
    await trx.updateTable('sequence_marks').set({ highest_seq: last }).where('account_id', '=', accountId).execute();
  }
  return change;
}
