// The inbox's group commit on both stores: one group holding new batches, a batch id twice, a batch id already
// stored and a batch without id gets the right answer for each, and records each duplicate, in a transaction or (all
// with ids) in one statement; a delivery that cannot be stored fails alone; every answered delivery is already
// visible to another connection.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { testDialects } from '../../test/support/test-databases.ts';
import { type Database, openDatabase } from '../store/database.ts';
import type { MirrorSchema } from './schema.ts';
import { InboxWriter, type IncomingBatch, storeBatch } from './store-batch.ts';

const dialects = await testDialects();

/** The two repeats of these tests (msg_old of the earlier row, msg_a of the group's first) are recorded as anomalies. */
async function assertRepeatsRecorded(database: Database<MirrorSchema>, oldId: number | undefined, firstId: number | undefined) {
  const anomalies = await database.db.selectFrom('anomalies').select(['kind', 'subject', 'inbox_id']).orderBy('inbox_id').execute();
  assert.deepEqual(anomalies, [
    { kind: 'duplicate_batch', subject: 'msg_old', inbox_id: oldId },
    { kind: 'duplicate_batch', subject: 'msg_a', inbox_id: firstId },
  ]);
}

function batch(batchId: string | undefined, accountId: number): IncomingBatch {
  return { ...(batchId ? { batchId } : {}), accountId, eventCount: 1, body: `{"accountId":${accountId}}`, replay: false, test: false };
}

for (const dialect of dialects) {
  describe(`inbox group commit on ${dialect.name}`, { skip: dialect.skip }, () => {
    test('each batch of one group is stored once, duplicates are answered with the stored row and recorded', async () => {
      const database = await dialect.open<MirrorSchema>('mirror');
      try {
        const earlier = await storeBatch(database, batch('msg_old', 1), 1);
        assert.ok(earlier.stored);
        const writer = new InboxWriter(database);
        // Written in one turn of the event loop, so they share one group and one commit.
        const results = await Promise.all([
          writer.write(batch('msg_a', 2), 2),
          writer.write(batch('msg_a', 2), 2),
          writer.write(batch(undefined, 3), 2),
          writer.write(batch('msg_old', 1), 2),
          writer.write({ ...batch('msg_b', 4), sequence: '7-9' }, 2),
        ]);
        const [first, again, withoutId, old, withSequence] = results;
        assert.ok(first?.stored && withoutId?.stored && withSequence?.stored);
        assert.deepEqual(again, { stored: false, duplicateOf: first.inboxId });
        assert.deepEqual(old, { stored: false, duplicateOf: earlier.inboxId });
        const rows = await database.db
          .selectFrom('inbox')
          .select(['id', 'batch_id', 'account_id', 'seq_first', 'seq_last'])
          .orderBy('id')
          .execute();
        assert.equal(rows.length, 4);
        assert.deepEqual(
          rows.find((row) => row.id === withSequence.inboxId),
          { id: withSequence.inboxId, batch_id: 'msg_b', account_id: 4, seq_first: 7, seq_last: 9 },
        );
        assert.equal(rows.find((row) => row.id === withoutId.inboxId)?.batch_id, null);
        if (dialect.name === 'postgres') {
          // One transaction wrote the group: its rows carry one transaction id.
          const writers = await sql<{
            xmin: string;
          }>`SELECT DISTINCT xmin::text AS xmin FROM inbox WHERE batch_id IS DISTINCT FROM 'msg_old'`.execute(database.db);
          assert.equal(writers.rows.length, 1);
        }
        await assertRepeatsRecorded(database, earlier.inboxId, first.inboxId);
      } finally {
        await database.close();
      }
    });

    test('a group whose batches all carry an id is one statement: each stored once, duplicates answered and recorded', async () => {
      const database = await dialect.open<MirrorSchema>('mirror');
      try {
        const earlier = await storeBatch(database, batch('msg_old', 1), 1);
        assert.ok(earlier.stored);
        const writer = new InboxWriter(database);
        const [first, second, again, old] = await Promise.all([
          writer.write(batch('msg_a', 2), 2),
          writer.write(batch('msg_b', 3), 2),
          writer.write(batch('msg_a', 2), 2),
          writer.write(batch('msg_old', 1), 2),
        ]);
        assert.ok(first?.stored && second?.stored);
        assert.deepEqual(again, { stored: false, duplicateOf: first.inboxId });
        assert.deepEqual(old, { stored: false, duplicateOf: earlier.inboxId });
        const rows = await database.db.selectFrom('inbox').select(['id', 'batch_id']).orderBy('id').execute();
        assert.deepEqual(rows, [
          { id: earlier.inboxId, batch_id: 'msg_old' },
          { id: first.inboxId, batch_id: 'msg_a' },
          { id: second.inboxId, batch_id: 'msg_b' },
        ]);
        await assertRepeatsRecorded(database, earlier.inboxId, first.inboxId);
      } finally {
        await database.close();
      }
    });

    test('a delivery that cannot be stored fails alone; the others of its group are stored once', async () => {
      const database = await dialect.open<MirrorSchema>('mirror');
      try {
        const writer = new InboxWriter(database);
        // A body the inbox refuses (NOT NULL): the group's multi-row insert fails, and each delivery is tried alone.
        const broken = { ...batch('msg_broken', 5), body: null as unknown as string };
        const results = await Promise.allSettled([
          writer.write(batch('msg_1', 1), 1),
          writer.write(broken, 1),
          writer.write(batch('msg_2', 2), 1),
          writer.write(batch('msg_1', 1), 1),
        ]);
        assert.deepEqual(
          results.map((result) => result.status),
          ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
        );
        const [first, , , again] = results;
        assert.ok(first?.status === 'fulfilled' && first.value.stored);
        assert.deepEqual(again?.status === 'fulfilled' && again.value, { stored: false, duplicateOf: first.value.inboxId });
        const rows = await database.db.selectFrom('inbox').select('batch_id').orderBy('batch_id').execute();
        assert.deepEqual(
          rows.map((row) => row.batch_id),
          ['msg_1', 'msg_2'],
        );
      } finally {
        await database.close();
      }
    });

    test('a delivery is answered only once committed: another connection already sees it', async () => {
      const database = await dialect.open<MirrorSchema>('mirror');
      const reader = await openDatabase<MirrorSchema>(database.url);
      try {
        const writer = new InboxWriter(database);
        const seen = await Promise.all(
          Array.from({ length: 40 }, async (_, index) => {
            const result = await writer.write(batch(`msg_${index}`, 1 + (index % 4)), 1);
            assert.ok(result.stored);
            const row = await reader.db.selectFrom('inbox').select('batch_id').where('id', '=', result.inboxId).executeTakeFirst();
            return row?.batch_id;
          }),
        );
        assert.deepEqual(
          seen,
          Array.from({ length: 40 }, (_, index) => `msg_${index}`),
        );
      } finally {
        await reader.close();
        await database.close();
      }
    });
  });
}
