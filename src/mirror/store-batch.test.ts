// The inbox's group commit on both stores: one group holding new batches, a batch id twice, a batch id already
// stored and a batch without id gets the right answer for each, and records each duplicate.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { testDialects } from '../../test/support/test-databases.ts';
import type { MirrorSchema } from './schema.ts';
import { InboxWriter, type IncomingBatch, storeBatch } from './store-batch.ts';

const dialects = await testDialects();

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
        const anomalies = await database.db.selectFrom('anomalies').select(['kind', 'subject', 'inbox_id']).orderBy('inbox_id').execute();
        assert.deepEqual(anomalies, [
          { kind: 'duplicate_batch', subject: 'msg_old', inbox_id: earlier.inboxId },
          { kind: 'duplicate_batch', subject: 'msg_a', inbox_id: first.inboxId },
        ]);
      } finally {
        await database.close();
      }
    });
  });
}
