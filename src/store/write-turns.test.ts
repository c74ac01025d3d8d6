import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { sql } from 'kysely';
import { openDatabase } from './database.ts';
import { WriteTurns } from './write-turns.ts';

const turnsModule = new URL('./write-turns.ts', import.meta.url).href;
/** A thread evaluated from text loads TypeScript only once the loader is registered in it. */
const loader = import.meta.resolve('tsx/esm/api');

/**
 * Another thread of this process acting on the same turns: `take` (then say so and wait to be told to give), `try`
 * (take with a 50 ms limit and report whether it got the turn or the error), or `takeAndEnd` (take, then end without
 * giving it back).
 */
function otherThread(shared: SharedArrayBuffer, action: 'take' | 'try' | 'takeAndEnd'): Worker {
  return new Worker(
    `
    const { parentPort, workerData } = require('node:worker_threads');
    import(workerData.loader).then((tsx) => { tsx.register(); return import(workerData.turnsModule); }).then(({ WriteTurns }) => {
      const turns = new WriteTurns(workerData.shared, 50);
      if (workerData.action === 'try') {
        try { turns.take(); turns.give(); parentPort.postMessage('took'); }
        catch (error) { parentPort.postMessage(error.code + ': ' + error.message); }
        return;
      }
      turns.take();
      parentPort.postMessage('taken');
      if (workerData.action === 'take') parentPort.once('message', () => { turns.give(); parentPort.close(); });
      else parentPort.close();
    });
    `,
    { eval: true, workerData: { shared, action, turnsModule, loader } },
  );
}

async function answer(worker: Worker): Promise<string> {
  const [message] = await once(worker, 'message');
  return String(message);
}

describe('write turns between threads', () => {
  test('a thread that wants the turn waits until the holder gives it, then gets it', async () => {
    const turns = new WriteTurns();
    const holder = otherThread(turns.shared, 'take');
    assert.equal(await answer(holder), 'taken');
    const tried = otherThread(turns.shared, 'try');
    assert.match(
      await answer(tried),
      /^SQLITE_BUSY: database is locked: another thread of this process has held its write turn for 50 ms$/,
    );
    holder.postMessage('give');
    await once(holder, 'exit');
    turns.take();
    turns.give();
    const later = otherThread(turns.shared, 'try');
    assert.equal(await answer(later), 'took');
  });

  test('the turn of a thread that ended without giving it back is freed by whoever saw it end', async () => {
    const turns = new WriteTurns(undefined, 50);
    const ending = otherThread(turns.shared, 'takeAndEnd');
    const { threadId } = ending;
    assert.equal(await answer(ending), 'taken');
    await once(ending, 'exit');
    assert.throws(() => turns.take(), { code: 'SQLITE_BUSY' });
    turns.freeFrom(threadId + 1);
    assert.throws(() => turns.take(), { code: 'SQLITE_BUSY' }, 'only the thread that held it is freed');
    turns.freeFrom(threadId);
    turns.take();
    turns.give();
  });
});

describe('a SQLite database takes the turn for its writes', () => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'learnhook-turns-'));
  after(() => fs.rmSync(folder, { recursive: true, force: true }));

  test('for a whole transaction, for a write outside one, and never for a read', async () => {
    const database = await openDatabase<{ notes: { id: number } }>(`sqlite:${path.join(folder, 'turns.db')}`);
    try {
      const shared = database.writeTurns?.shared;
      assert.ok(shared, 'a SQLite file has write turns');
      const othersGetTheTurn = async () => answer(otherThread(shared, 'try'));
      await database.executeScript('CREATE TABLE notes (id INTEGER PRIMARY KEY)');
      assert.equal(await othersGetTheTurn(), 'took', 'a script gives the turn back when it is done');
      await database.db.transaction().execute(async (trx) => {
        assert.match(await othersGetTheTurn(), /^SQLITE_BUSY/, 'held from BEGIN, before anything is written');
        await trx.insertInto('notes').values({ id: 1 }).execute();
        assert.match(await othersGetTheTurn(), /^SQLITE_BUSY/, 'held until the transaction ends');
      });
      assert.equal(await othersGetTheTurn(), 'took', 'given back at COMMIT');
      await assert.rejects(
        database.db.transaction().execute(async (trx) => {
          await trx.insertInto('notes').values({ id: 2 }).execute();
          throw new Error('changed my mind');
        }),
        /changed my mind/,
      );
      assert.equal(await othersGetTheTurn(), 'took', 'given back at ROLLBACK');
      await database.db.insertInto('notes').values({ id: 3 }).execute();
      await sql`SELECT count(*) FROM notes`.execute(database.db);
      assert.equal(await othersGetTheTurn(), 'took', 'a write outside a transaction holds it for that write alone');
      // While another thread holds the turn, a read goes on and a write waits (here: past the limit of 10 s would fail).
      const holder = otherThread(shared, 'take');
      assert.equal(await answer(holder), 'taken');
      const rows = await database.db.selectFrom('notes').select('id').orderBy('id').execute();
      assert.deepEqual(
        rows.map((row) => row.id),
        [1, 3],
      );
      const write = database.db.insertInto('notes').values({ id: 4 }).execute();
      holder.postMessage('give');
      await write;
      assert.equal((await database.db.selectFrom('notes').select('id').where('id', '=', 4).executeTakeFirst())?.id, 4);
    } finally {
      await database.close();
    }
  });
});
