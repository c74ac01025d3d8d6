// `learnhook mirror retry-failed` as a user runs it, on both stores: it puts set-aside inbox rows (and only those,
// or only the ids given) back in line, and refuses an id that is not one.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { MirrorSchema } from '../src/mirror/schema.ts';
import { openDatabase } from '../src/store/database.ts';
import { migrate } from '../src/store/migrate.ts';
import { dropTestDatabase, testDialects } from './support/test-databases.ts';

const dialects = await testDialects();
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);
const cli = (...args: string[]) => run(process.execPath, [path.join(root, 'bin/learnhook.js'), 'mirror', 'retry-failed', ...args]);

for (const dialect of dialects) {
  describe(`mirror retry-failed on ${dialect.name}`, { skip: dialect.skip }, () => {
    test('clears the set-aside mark of the ids given, then of all, and nothing else', async () => {
      const url = await dialect.freshUrl();
      const database = await openDatabase<MirrorSchema>(url);
      try {
        await migrate(database as Parameters<typeof migrate>[0], 'mirror');
        const row = (batchId: string, failedAt: number | null, processedAt: number | null) => ({
          batch_id: batchId,
          account_id: 1,
          seq_first: null,
          seq_last: null,
          replay: 0,
          test: 0,
          event_count: 1,
          body: '{}',
          received_at: 1,
          processed_at: processedAt,
          attempts: failedAt === null ? 0 : 5,
          last_error: failedAt === null ? null : 'SyntaxError: bad body',
          failed_at: failedAt,
        });
        const ids = (
          await database.db
            .insertInto('inbox')
            .values([row('a', 10, null), row('b', 20, null), row('c', null, null), row('d', null, 30)])
            .returning('id')
            .execute()
        ).map((inserted) => inserted.id);
        const state = async () =>
          (await database.db.selectFrom('inbox').select(['batch_id', 'failed_at', 'attempts']).orderBy('id').execute()).map((current) => [
            current.batch_id,
            current.failed_at,
            current.attempts,
          ]);

        const one = await cli(String(ids[1]), '--db', url);
        assert.match(one.stdout, /^1 set-aside inbox row and 0 held events put back in line/);
        assert.deepEqual(await state(), [
          ['a', 10, 5],
          ['b', null, 0],
          ['c', null, 0],
          ['d', null, 0],
        ]);
        const all = await cli('--db', url);
        assert.match(all.stdout, /^1 set-aside inbox row and 0 held events put back in line/);
        assert.deepEqual(await state(), [
          ['a', null, 0],
          ['b', null, 0],
          ['c', null, 0],
          ['d', null, 0],
        ]);
        await assert.rejects(cli('x1', '--db', url), (error: { code?: number; stderr?: string }) => {
          assert.equal(error.code, 2);
          assert.match(error.stderr ?? '', /"x1" is not an inbox row id/);
          return true;
        });
      } finally {
        await database.close();
        await dropTestDatabase(url);
      }
    });
  });
}
