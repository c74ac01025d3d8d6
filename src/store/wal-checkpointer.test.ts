// The WAL of a producer's SQLite file is checkpointed by a worker thread, never inside a commit; a failed worker hands the work back.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import { openDatabase } from './database.ts';
import { checkpointInBackground } from './wal-checkpointer.ts';

function tempFile(t: { after(fn: () => void): void }): string {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'lh-wal-'));
  t.after(() => fs.rmSync(folder, { recursive: true, force: true }));
  return path.join(folder, 'store.db');
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

for (const background of [true, false]) {
  test(`committed pages reach the database file ${background ? 'from the worker, with no checkpoint in any commit' : 'only through a checkpoint: none without the worker'}`, async (t) => {
    const file = tempFile(t);
    const database = await openDatabase(`sqlite:${file}`, background ? { checkpointInBackground: true } : { walAutocheckpointPages: 0 });
    t.after(() => database.close());
    const { rows } = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(database.db);
    assert.equal(rows[0]?.wal_autocheckpoint, 0, 'the connection never checkpoints inside a commit');
    await sql`create table filler (body text not null)`.execute(database.db);
    const before = fs.statSync(file).size;
    // ~2 MB of committed rows, far past the 1000-page default at which a commit would checkpoint by itself.
    for (let index = 0; index < 200; index++) await sql`insert into filler (body) values (${'x'.repeat(10_000)})`.execute(database.db);
    if (background) await until(() => fs.statSync(file).size > before + 1_000_000, 'the worker copied the pages into the file');
    else {
      await sleep(300);
      assert.ok(fs.statSync(file).size < before + 1_000_000, 'nothing else copies the WAL into the file');
    }
    const { rows: counted } = await sql<{ count: number }>`select count(*) as count from filler`.execute(database.db);
    assert.equal(Number(counted[0]?.count), 200);
  });
}

test('stopping the worker, or a worker that fails, gives the checkpoints back to the connection', async (t) => {
  const file = tempFile(t);
  const handle = new BetterSqlite3(file);
  t.after(() => handle.close());
  handle.pragma('journal_mode = WAL');
  const autocheckpoint = () => handle.pragma('wal_autocheckpoint', { simple: true });

  const running = checkpointInBackground(handle, file, { everyMs: 50, fallbackPages: 1234 });
  assert.equal(autocheckpoint(), 0);
  await running.stop();
  assert.equal(autocheckpoint(), 1234);

  // A worker that cannot open its file (it must exist) ends at once: the connection checkpoints by itself again.
  const failing = checkpointInBackground(handle, path.join(path.dirname(file), 'missing', 'store.db'), { everyMs: 50, fallbackPages: 777 });
  await until(() => autocheckpoint() === 777, 'the connection checkpoints by itself again');
  await failing.stop();
});
