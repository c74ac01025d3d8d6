// The claim of due webhooks on both stores: longest-waiting first, never one webhook to two claimers, takeover from a gone owner, writes refused once the lease is lost.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { testDialects } from '../../test/support/test-databases.ts';
import { type ClusterSession, LocalSession, openClusterSession } from '../cluster/cluster-session.ts';
import { loadSettings } from '../config.ts';
import { createLogger, createProducerContext, type ProducerContext } from '../context.ts';
import { createAccount } from '../platform/accounts.ts';
import { appendEvents, newEvent } from '../platform/event-log.ts';
import type { Database } from '../store/database.ts';
import type { ProducerSchema } from '../store/schema.ts';
import { createWebhook } from '../webhooks/webhooks.ts';
import { HeldLease } from './held-lease.ts';
import { Notifier } from './notifier.ts';
import { recordFailure } from './record-failure.ts';
import { claimDueWebhooks, loadLeasedWebhook, releaseWebhook, renewLease, updateLeasedWebhook } from './webhook-lease.ts';

const dialects = await testDialects();
const logger = createLogger('silent');

for (const dialect of dialects) {
  describe(`claiming webhooks on ${dialect.name}`, { skip: dialect.skip }, () => {
    let database: Database<ProducerSchema>;
    let context: ProducerContext;
    const sessions: ClusterSession[] = [];
    /** A process's membership: a real session on PostgreSQL (its liveness lock), a local one on SQLite. */
    const join = async () => {
      const session =
        dialect.name === 'postgres' ? await openClusterSession(database, { url: database.url, logger, channels: [] }) : new LocalSession();
      sessions.push(session);
      return session;
    };

    before(async () => {
      database = await dialect.open<ProducerSchema>('producer');
      const settings = loadSettings({ logLevel: 'silent', allowPrivateTargets: true, leaseMs: '60s' }, {});
      context = createProducerContext(settings, database, { logger });
    });
    after(async () => {
      for (const session of sessions) await session.close();
      await database.close();
    });

    /** `count` webhooks (five per account, the limit), each with an event after its cursor (so each is due). */
    async function dueWebhooks(name: string, count: number): Promise<string[]> {
      const ids: string[] = [];
      for (let account = 0; ids.length < count; account++) {
        const { id: accountId } = await createAccount(context, { name: `${name} ${account}`, contactEmail: 'ops@example.com' });
        for (let index = 0; index < 5 && ids.length < count; index++) {
          const webhook = { name: `w${index}`, url: 'http://127.0.0.1:9/', events: ['LEARNING_OBJECT_DRAFT'] };
          ids.push((await createWebhook(context, accountId, webhook)).id);
        }
        const event = newEvent('LEARNING_OBJECT_DRAFT', { loId: 'course:1', loType: 'course' }, Date.now(), `${name}-${account}`);
        await database.db.transaction().execute((trx) => appendEvents(trx, accountId, [event], Date.now()));
      }
      return ids;
    }
    /** The ids of the webhooks a claim took. */
    const claimIds = async (...args: Parameters<typeof claimDueWebhooks>) => (await claimDueWebhooks(...args)).map((row) => row.id);

    /** Leaves only these webhooks claimable: every other one is paused. */
    async function onlyThese(ids: readonly string[]) {
      await database.db.updateTable('webhooks').set({ state: 'paused' }).where('id', 'not in', ids).execute();
    }

    test('the longest-waiting webhook is claimed first, the same on both stores; a retry not yet due is not claimed', async () => {
      const [a, b, c, d] = (await dueWebhooks('fair', 4)) as [string, string, string, string];
      await onlyThese([a, b, c, d]);
      const now = Date.now();
      for (const [id, waitingSince] of [
        [a, 300],
        [b, 100],
        [c, 200],
      ] as const)
        await database.db.updateTable('webhooks').set({ waiting_since: waitingSince }).where('id', '=', id).execute();
      // d waits longest of all, but its retry is not due yet.
      await database.db
        .updateTable('webhooks')
        .set({ waiting_since: 0, next_attempt_at: now + 60_000 })
        .where('id', '=', d)
        .execute();
      const owner = (await join()).owner;
      // RETURNING gives no order: the two oldest, as a set.
      assert.deepEqual((await claimIds(context, owner, now, 2)).sort(), [b, c].sort());
      assert.deepEqual(await claimIds(context, owner, now, 2), [a]);
      assert.deepEqual(await claimIds(context, owner, now, 2), [], 'the claimed ones are held, d is not due');

      // Given back, a webhook joins the back of the queue: b, released now, waits behind a, released before it.
      await releaseWebhook({ ...context, now: () => now + 1 }, owner, a);
      await releaseWebhook({ ...context, now: () => now + 2 }, owner, b);
      assert.deepEqual(await claimIds(context, owner, now + 3, 1), [a]);
      assert.deepEqual(await claimIds(context, owner, now + 3, 1), [b]);
      // A retry scheduled waits from its due time, not from its release.
      await database.db.updateTable('webhooks').set({ state: 'paused' }).where('id', 'in', [a, b, c]).execute();
      await database.db.updateTable('webhooks').set({ lease_owner: owner }).where('id', '=', d).execute();
      await releaseWebhook({ ...context, now: () => now + 4 }, owner, d);
      const row = await database.db.selectFrom('webhooks').select('waiting_since').where('id', '=', d).executeTakeFirstOrThrow();
      assert.equal(Number(row.waiting_since), now + 60_000);
    });

    test('claimers running at once never get the same webhook, and together get every due one', async () => {
      const ids = await dueWebhooks('parallel', 40);
      await onlyThese(ids);
      const owners = await Promise.all([join(), join(), join(), join()]);
      const now = Date.now();
      const claimed: string[][] = owners.map(() => []);
      // Rounds of four claims at once, three webhooks each, until none is left.
      for (let round = 0; round < 20; round++) {
        const got = await Promise.all(owners.map((session) => claimIds(context, session.owner, now, 3)));
        for (const [index, ids] of got.entries()) claimed[index]?.push(...ids);
        if (got.every((ids) => ids.length === 0)) break;
      }
      const all = claimed.flat();
      assert.equal(new Set(all).size, all.length, 'no webhook was claimed twice');
      assert.deepEqual([...all].sort(), [...ids].sort());
      const rows = await database.db.selectFrom('webhooks').select(['id', 'lease_owner']).where('id', 'in', ids).execute();
      for (const row of rows) {
        const holder = claimed.findIndex((got) => got.includes(row.id));
        assert.equal(row.lease_owner, owners[holder]?.owner, `${row.id} is held by the claimer that got it`);
      }
    });

    test('a lease is taken over when it expires, or at once on PostgreSQL when its owner is gone; the old owner can write nothing', async () => {
      const [id] = (await dueWebhooks('takeover', 1)) as [string];
      await onlyThese([id]);
      const first = await join();
      const second = await join();
      const now = Date.now();
      const [claimed] = await claimDueWebhooks(context, first.owner, now, 5);
      assert.equal(claimed?.id, id);
      assert.deepEqual(await claimIds(context, second.owner, now, 5), [], 'a live lease is not taken');
      const row = await loadLeasedWebhook(context, first.owner, id);
      assert.ok(row);
      assert.deepEqual(claimed, row, 'the claim returns the row as leased, with its account, as a delivery reads it');
      const firstOwner = first.owner;
      if (dialect.name === 'postgres') {
        // The first process dies: its session (and liveness lock) is gone, 60 s of lease or not.
        await first.close();
        assert.deepEqual(await claimIds(context, second.owner, now, 5), [id]);
      } else {
        assert.deepEqual(await claimIds(context, second.owner, now + 60_001, 5), [id], 'SQLite: once the lease has expired');
      }

      // Every write of the old owner is refused: renewal, the stream's columns, a failure record (and its mail).
      assert.equal(await renewLease(context, firstOwner, id, now), false);
      assert.equal(await updateLeasedWebhook(database.db, firstOwner, id, { batchId: null }, { cursor: 99 }), false);
      const notifier = new Notifier(context.settings, logger);
      const mails: unknown[] = [];
      notifier.send = async (mail) => {
        mails.push(mail);
        return true;
      };
      const batch = { id: 'msg_x', seqs: [1], firstSeq: 1, lastSeq: 1, deliveryFirst: 1, deliveryLast: 1, replay: false, attempts: 0 };
      for (const statusCode of [500, 410])
        await recordFailure({ context, notifier, owner: firstOwner }, row, {
          batch,
          attempt: 1,
          result: {
            acknowledged: false,
            statusCode,
            cause: 'status',
            error: `answered ${statusCode}`,
            durationMs: 1,
            responseBody: null,
            retryAfter: undefined,
          },
          now,
          failingSince: now,
        });
      notifier.close();
      const after = await database.db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      assert.equal(after.lease_owner, second.owner);
      assert.equal(after.state, 'enabled');
      assert.equal(after.cursor, 0);
      assert.equal(after.next_attempt_at, null);
      assert.deepEqual(mails, [], 'no disable mail from a process that lost the lease');

      // A held lease that finds itself taken over at its next renewal is lost: its signal aborts what is in flight.
      const lease = new HeldLease({ ...context, settings: { ...context.settings, leaseMs: 300 } }, firstOwner, id, now);
      await once(lease.signal, 'abort');
      assert.equal(lease.lost, true);
      await lease.end();
      const kept = await database.db.selectFrom('webhooks').select('lease_owner').where('id', '=', id).executeTakeFirstOrThrow();
      assert.equal(kept.lease_owner, second.owner, 'a lost lease is not given back by its old owner');
    });
  });
}
