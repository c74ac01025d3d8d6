// The multi-row insert of the hot write paths, on both stores: rows in order, nulls kept, split into statements.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { sql } from 'kysely';
import { testDialects } from '../../test/support/test-databases.ts';
import { openDatabase } from './database.ts';
import { rowInsert } from './row-insert.ts';

interface Row {
  id: number;
  name: string | null;
}

const dialects = await testDialects();

for (const dialect of dialects) {
  describe(`rowInsert on ${dialect.name}`, { skip: dialect.skip }, () => {
    const closers: (() => Promise<unknown>)[] = [];
    after(async () => {
      for (const close of closers.reverse()) await close();
    });

    test('inserts every row with its values in order, several statements when there are more rows than one takes', async () => {
      const database = await openDatabase<{ things: Row }>(await dialect.freshUrl());
      closers.push(() => database.close());
      await sql`create table things (id bigint primary key, name text)`.execute(database.db);
      const insert = rowInsert<Row>('things', ['id', 'name'], 3);
      await insert(database.db, []);
      const rows = Array.from({ length: 7 }, (_, index) => ({ id: index + 1, name: index % 2 === 0 ? `thing ${index}` : null }));
      await database.db.transaction().execute((trx) => insert(trx, rows));
      await insert(database.db, [{ id: 8, name: 'alone' }]);
      const stored = await database.db.selectFrom('things').select(['id', 'name']).orderBy('id').execute();
      assert.deepEqual(
        stored.map((row) => ({ id: Number(row.id), name: row.name })),
        [...rows, { id: 8, name: 'alone' }],
      );
    });

    test('refuses a shape that would bind more parameters than a statement takes', () => {
      assert.throws(() => rowInsert<Row>('things', ['id', 'name'], 20_000), /bind too many parameters/);
    });
  });
}
