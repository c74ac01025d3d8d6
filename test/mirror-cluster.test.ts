// Several mirrors on one PostgreSQL behind one address: two mirror processes' worth of receivers and projectors share a
// fresh database and get one set of deliveries, each account's batches alternating between them (and some sent to
// both). They end with the tables one mirror makes of the same deliveries, no event applied twice, and no account ever
// applied by both projectors at once.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { request } from 'undici';
import { sequenceHeader, webhookIdHeader } from '../src/catalog/index.ts';
import type { CatalogEvent } from '../src/catalog/schemas.ts';
import { loadSettings } from '../src/config.ts';
import type { MirrorSchema } from '../src/mirror/schema.ts';
import { type HistoryAction, type HistoryActionKind, simulateHistory } from '../src/mirror/simulate-history.ts';
import { type RunningMirror, startMirror } from '../src/mirror/start-mirror.ts';
import { signature } from '../src/mirror/verify.ts';
import { type Database, openDatabase } from '../src/store/database.ts';
import { dropTestDatabase, testDialects } from './support/test-databases.ts';

const postgres = (await testDialects()).find((dialect) => dialect.name === 'postgres');
const secret = `whsec_${randomBytes(24).toString('base64')}`;
const accounts = [11, 12, 13, 14, 15, 16];
const kinds: HistoryActionKind[] = [
  'enroll',
  'progress',
  'progress',
  'complete',
  'unenroll',
  'loModify',
  'instanceModify',
  'ciStats',
  'loPublish',
];

interface Delivery {
  batchId: string;
  accountId: number;
  sequence: string;
  body: string;
}

/** Each account's history cut into batches of 4 events, with a delivery sequence, as a webhook would send them. */
function deliveriesOf(accountId: number): Delivery[] {
  const actions: HistoryAction[] = Array.from({ length: 60 }, (_, index) => ({
    kind: kinds[(index * 5 + accountId) % kinds.length] as HistoryActionKind,
    user: 1 + ((index * 7 + accountId) % 9),
    target: (index + accountId) % 6,
    batch: index % 4 === 0,
    percent: 1 + ((index * 31 + accountId) % 99),
    delayMs: 0,
  }));
  const events = simulateHistory(actions).events;
  // An event sent twice in different batches (a platform that re-publishes): applied once, counted as a duplicate.
  const withRepeat: CatalogEvent[] = [...events, ...events.slice(3, 5)];
  const deliveries: Delivery[] = [];
  for (let first = 0; first < withRepeat.length; first += 4) {
    const slice = withRepeat.slice(first, first + 4);
    deliveries.push({
      batchId: `msg_${accountId}_${first}`,
      accountId,
      sequence: `${first + 1}-${first + slice.length}`,
      body: JSON.stringify({ accountId, events: slice }),
    });
  }
  return deliveries;
}

async function deliver(mirror: RunningMirror, delivery: Delivery): Promise<void> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const response = await request(`${mirror.url}/webhook`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      [webhookIdHeader]: delivery.batchId,
      'webhook-timestamp': timestamp,
      'webhook-signature': signature(secret, delivery.batchId, timestamp, delivery.body),
      [sequenceHeader]: delivery.sequence,
    },
    body: delivery.body,
  });
  await response.body.dump();
  assert.equal(response.statusCode, 202);
}

/** Every projected table in key order, and what the mirror recorded about the deliveries: what must not depend on how many mirrors applied them. */
async function snapshot(database: Database<MirrorSchema>) {
  const { db } = database;
  return {
    learning_objects: await db.selectFrom('learning_objects').selectAll().orderBy('account_id').orderBy('lo_id').execute(),
    lo_instances: await db.selectFrom('lo_instances').selectAll().orderBy('account_id').orderBy('lo_instance_id').execute(),
    enrollments: await db
      .selectFrom('enrollments')
      .selectAll()
      .orderBy('account_id')
      .orderBy('user_id')
      .orderBy('lo_instance_id')
      .execute(),
    users: await db.selectFrom('users').selectAll().orderBy('account_id').orderBy('user_id').execute(),
    ci_stats: await db.selectFrom('ci_stats').selectAll().orderBy('account_id').orderBy('lo_instance_id').execute(),
    processed_events: await db
      .selectFrom('processed_events')
      .select(['account_id', 'event_id'])
      .orderBy('account_id')
      .orderBy('event_id')
      .execute(),
    inbox: await db.selectFrom('inbox').select(['batch_id', 'account_id', 'processed_at']).orderBy('batch_id').execute(),
    anomalies: await db
      .selectFrom('anomalies')
      .select(['account_id', 'kind', 'event_id', 'subject'])
      .where('kind', 'not in', ['gap', 'gap_closed'])
      .orderBy('account_id')
      .orderBy('kind')
      .orderBy('event_id')
      .orderBy('subject')
      .execute(),
    gaps: await db.selectFrom('sequence_gaps').selectAll().execute(),
  };
}

/** Applies what is pending with every mirror's projector until nothing is: a drain ends early when its accounts are held elsewhere. */
async function applyAll(mirrors: readonly RunningMirror[], database: Database<MirrorSchema>): Promise<void> {
  for (;;) {
    await Promise.all(mirrors.map((mirror) => mirror.projector.drain()));
    const pending = await database.db
      .selectFrom('inbox')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('processed_at', 'is', null)
      .executeTakeFirstOrThrow();
    if (Number(pending.count) === 0) return;
  }
}

function settingsFor(url: string) {
  return loadSettings({ db: url, port: 0, host: '127.0.0.1', logLevel: 'silent', mirrorSecret: secret }, {});
}

describe('two mirrors on one PostgreSQL database', { skip: postgres?.skip ?? 'no PostgreSQL dialect' }, () => {
  test('interleaved deliveries of the same accounts end in the tables one mirror makes; one projector holds an account at a time', async () => {
    if (!postgres) return;
    const perAccount = new Map(accounts.map((accountId) => [accountId, deliveriesOf(accountId)]));
    const sharedUrl = await postgres.freshUrl();
    const aloneUrl = await postgres.freshUrl();
    const mirrors = [await startMirror(settingsFor(sharedUrl)), await startMirror(settingsFor(sharedUrl))] as const;
    const alone = await startMirror(settingsFor(aloneUrl));
    const shared = await openDatabase<MirrorSchema>(sharedUrl);
    const aloneDatabase = await openDatabase<MirrorSchema>(aloneUrl);
    // Holds per account across both projectors: never more than one at a time.
    const holders = new Map<number, number>();
    let overlaps = 0;
    const holdsBy = [0, 0];
    for (const [index, mirror] of mirrors.entries()) {
      mirror.context.signals.on('account-held', (accountId, held) => {
        const count = (holders.get(accountId) ?? 0) + (held ? 1 : -1);
        if (count > 1) overlaps++;
        if (held) holdsBy[index] = (holdsBy[index] ?? 0) + 1;
        holders.set(accountId, count);
      });
    }
    try {
      // One request in flight per account (the sender's rule), accounts side by side; each batch goes to the other
      // mirror than the one before, and every fifth is sent again to the other one (an answer lost on the way back).
      await Promise.all(
        accounts.map(async (accountId) => {
          for (const [index, delivery] of (perAccount.get(accountId) ?? []).entries()) {
            await deliver(mirrors[(index + accountId) % 2] as RunningMirror, delivery);
            if (index % 5 === 0) await deliver(mirrors[(index + accountId + 1) % 2] as RunningMirror, delivery);
          }
        }),
      );
      for (const accountId of accounts) {
        for (const [index, delivery] of (perAccount.get(accountId) ?? []).entries()) {
          await deliver(alone, delivery);
          if (index % 5 === 0) await deliver(alone, delivery);
        }
      }
      await applyAll(mirrors, shared);
      await applyAll([alone], aloneDatabase);

      assert.equal(overlaps, 0, 'two projectors held one account at once');
      assert.ok(
        holdsBy.every((holds) => holds > 0),
        `both projectors applied deliveries (holds: ${holdsBy.join(', ')})`,
      );
      const together = await snapshot(shared);
      const single = await snapshot(aloneDatabase);
      assert.ok(together.enrollments.length > 0 && together.learning_objects.length > 0);
      assert.deepEqual(together.inbox.length, [...perAccount.values()].flat().length, 'each batch stored once');
      assert.ok(together.inbox.every((row) => row.processed_at !== null));
      // Each event applied once: a repeated event is one duplicate anomaly, in both setups alike.
      assert.equal(together.anomalies.filter((row) => row.kind === 'duplicate_event').length, accounts.length * 2);
      assert.deepEqual(
        { ...together, inbox: together.inbox.map(({ processed_at: _, ...row }) => row) },
        { ...single, inbox: single.inbox.map(({ processed_at: _, ...row }) => row) },
      );
    } finally {
      for (const mirror of [...mirrors, alone]) await mirror.stop();
      await shared.close();
      await aloneDatabase.close();
      await dropTestDatabase(sharedUrl);
      await dropTestDatabase(aloneUrl);
    }
  });
});
