import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import pino from 'pino';
import { dropTestDatabase, testDialects } from '../../test/support/test-databases.ts';
import { type Database, openDatabase } from '../store/database.ts';
import { type ClusterSession, openClusterSession, ownerGone } from './cluster-session.ts';
import { idListSignal, idSignal, relaySignals } from './relay-signals.ts';

const postgres = (await testDialects()).find((dialect) => dialect.name === 'postgres');
const logger = pino({ level: 'silent' });
const channels = ['events-appended', 'webhook-changed'];

describe('cluster session on PostgreSQL', { skip: postgres?.skip }, () => {
  let url: string;
  let database: Database<unknown>;
  const sessions: ClusterSession[] = [];
  const join = async () => {
    const session = await openClusterSession(database, { url, logger, channels });
    sessions.push(session);
    return session;
  };
  /** Whether the database sees the process named `owner` as gone, as the claiming query asks. */
  const gone = async (owner: string) => {
    const result = await sql<{
      gone: boolean;
    }>`SELECT ${ownerGone(database, 'owner')} AS gone FROM (SELECT ${owner}::text AS owner) AS lease`.execute(database.db);
    return result.rows[0]?.gone;
  };

  before(async () => {
    url = (await postgres?.freshUrl()) ?? '';
    database = await openDatabase(url);
  });
  after(async () => {
    for (const session of sessions) await session.close();
    await database.close();
    await dropTestDatabase(url);
  });

  test('a signal emitted in one process is emitted in the others, once, and not echoed back', async () => {
    const [first, second] = [await join(), await join()];
    const here = new EventEmitter();
    const there = new EventEmitter();
    const relayed = [idListSignal('events-appended'), idSignal('webhook-changed')];
    relaySignals(here, first as ClusterSession, relayed);
    relaySignals(there, second as ClusterSession, relayed);
    const echoes: unknown[] = [];
    here.on('events-appended', (ids) => echoes.push(ids));
    const arrived = once(there, 'events-appended');
    here.emit('events-appended', [1001]);
    here.emit('events-appended', [1002, 1003]);
    const [ids] = await arrived;
    assert.deepEqual([...(ids as number[])].sort(), [1001, 1002, 1003], 'the appends of one turn arrive as one wake-up');
    const changed = once(there, 'webhook-changed');
    here.emit('webhook-changed', 'wh_1');
    assert.deepEqual(await changed, ['wh_1']);
    assert.deepEqual(echoes, [[1001], [1002, 1003]], 'only the local emissions: nothing came back from the other process');
  });

  test('a process whose connection dies is seen as gone at once, and comes back under a new name', async () => {
    const session = await join();
    const owner = session.owner;
    assert.equal(await gone(owner), false);
    assert.equal(await gone('12345@elsewhere:1'), true, 'a name nobody holds is gone');
    const lost = new Promise<void>((resolve) => session.onLost(resolve));
    // What kill -9 of the process does to its connection: PostgreSQL ends the session and drops its locks.
    await sql`SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid::text = ${owner.split('@')[0]}`.execute(
      database.db,
    );
    await lost;
    assert.equal(await gone(owner), true);
    assert.notEqual(session.owner, owner, 'what the old name owned may be taken over: the session answers to a new one');
    const deadline = Date.now() + 10_000;
    while (!session.connected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(session.connected, true, 'the session reconnects by itself');
    assert.equal(await gone(session.owner), false);
  });

  test('one process at a time holds a lead; another takes it when the holder leaves', async () => {
    const [first, second] = [await join(), await join()];
    assert.equal(await first?.lead('housekeeping'), true);
    assert.equal(await second?.lead('housekeeping'), false);
    assert.equal(await first?.lead('housekeeping'), true, 'the holder keeps it');
    await first?.close();
    assert.equal(await second?.lead('housekeeping'), true);
  });
});

describe('cluster session on a SQLite file', () => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'learnhook-session-'));
  const file = path.join(folder, 'one.db');
  const database = { dialect: 'sqlite' as const };
  const open = (name: string) => openClusterSession(database, { url: `sqlite:${name}`, logger, channels });
  after(() => fs.rmSync(folder, { recursive: true, force: true }));

  test("a signal reaches the other sessions on the same file once, a turn's wake-ups together, never echoed, never to another file", async () => {
    const [here, there, elsewhere] = [await open(file), await open(file), await open(path.join(folder, 'other.db'))];
    // The sessions' channel never keeps a process alive by itself; this test's wait must.
    const keepAlive = setInterval(() => {}, 1000);
    try {
      const relayed = [idListSignal('events-appended'), idSignal('webhook-changed')];
      const [hereSignals, thereSignals, elsewhereSignals] = [new EventEmitter(), new EventEmitter(), new EventEmitter()];
      relaySignals(hereSignals, here as ClusterSession, relayed);
      relaySignals(thereSignals, there as ClusterSession, relayed);
      relaySignals(elsewhereSignals, elsewhere as ClusterSession, relayed);
      const heard: unknown[] = [];
      hereSignals.on('events-appended', (ids) => heard.push(['here', ids]));
      thereSignals.on('events-appended', (ids) => heard.push(['there', ids]));
      elsewhereSignals.on('events-appended', (ids) => heard.push(['elsewhere', ids]));
      const arrived = once(thereSignals, 'webhook-changed');
      hereSignals.emit('events-appended', [7]);
      hereSignals.emit('events-appended', [8, 9]);
      hereSignals.emit('webhook-changed', 'wh_1');
      assert.deepEqual(await arrived, ['wh_1']);
      assert.deepEqual(heard, [
        ['here', [7]],
        ['here', [8, 9]],
        ['there', [7, 8, 9]],
      ]);
      assert.equal(await here.lead('housekeeping'), true, 'alone on its file, a process holds every lead');
    } finally {
      clearInterval(keepAlive);
      for (const session of [here, there, elsewhere]) await session.close();
    }
  });

  test('a database in memory has nobody to wake', async () => {
    const session = await open(':memory:');
    assert.doesNotThrow(() => session.wake('events-appended', '1'));
    await session.close();
  });
});
