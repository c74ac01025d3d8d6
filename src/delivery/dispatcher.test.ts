// Delivery end to end on both stores: real HTTP receivers on loopback, the dispatcher, and the webhook API.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { Webhook } from 'standardwebhooks';
import { signalled, untilSignalled } from '../../test/support/signals.ts';
import { testDialects } from '../../test/support/test-databases.ts';
import { startTestProducer, type TestProducer } from '../../test/support/test-producer.ts';
import { startReceiver } from '../../test/support/test-receiver.ts';
import { parseSequenceRange } from '../catalog/index.ts';
import { createAccount, updateAccount } from '../platform/accounts.ts';

const dialects = await testDialects();

for (const dialect of dialects) {
  describe(`delivery on ${dialect.name}`, { skip: dialect.skip }, () => {
    let producer: TestProducer;
    before(async () => {
      producer = await startTestProducer(dialect, { batchMax: 3 });
    });
    after(async () => {
      await producer?.stop();
    });
    const admin = () => ({ authorization: `Bearer ${producer.adminToken}` });
    /** The receiver has a batch a moment before the dispatcher records its acknowledgement: wait for the cursor. */
    async function waitForCursor(accountId: number, webhookId: string, cursor: number) {
      const statsOf = async () =>
        (await producer.app.inject({ url: `/v1/accounts/${accountId}/webhooks/${webhookId}/stats`, headers: admin() })).json();
      return untilSignalled(
        producer.context.signals,
        ['webhook-released', 'dispatcher-scanned'],
        async () => {
          const stats = await statsOf();
          return stats.cursor === cursor ? stats : undefined;
        },
        { what: `webhook ${webhookId}'s cursor at ${cursor}` },
      );
    }

    test('chosen events arrive in order, in batches, signed, with a gap-free delivery sequence; others are passed over', async () => {
      const receiver = await startReceiver();
      try {
        const accountId = await producer.createAccount('ordered');
        const { id, secret } = await producer.createWebhook(accountId, {
          name: 'w',
          url: receiver.url,
          events: ['LEARNING_OBJECT_DRAFT', 'CI_STATS'],
        });
        assert.ok(secret?.startsWith('whsec_'));
        const ids = await producer.append(accountId, 12, ['LEARNING_OBJECT_DRAFT', 'LEARNING_OBJECT_MODIFICATION', 'CI_STATS']);
        const chosen = ids.filter((_, index) => index % 3 !== 1);
        await receiver.waitFor(() => receiver.acknowledgedEvents().length >= chosen.length);
        assert.deepEqual(receiver.acknowledgedEvents(), chosen);
        let last = 0;
        for (const delivery of receiver.deliveries) {
          assert.deepEqual(Object.keys(delivery.body), ['accountId', 'events']);
          assert.equal(delivery.body.accountId, accountId);
          assert.ok(delivery.body.events.length <= 3);
          for (const event of delivery.body.events)
            assert.deepEqual(Object.keys(event), ['eventId', 'eventName', 'timestamp', 'eventInfo', 'data']);
          assert.ok(new Webhook(secret ?? '').verify(delivery.raw, delivery.headers as Record<string, string>));
          const range = parseSequenceRange(delivery.headers['learnhook-sequence'] as string);
          assert.deepEqual(range, { first: last + 1, last: last + delivery.body.events.length });
          last = range?.last ?? 0;
          assert.match(String(delivery.headers['webhook-id']), /^msg_/);
        }
        const body = await waitForCursor(accountId, id, 12);
        assert.equal(body.cursor, 12);
        assert.equal(body.backlog, 0);
        assert.equal(body.deliverySeq, chosen.length);
        assert.equal(body.state, 'enabled');
        const log = await producer.app.inject({ url: `/v1/accounts/${accountId}/webhooks/${id}/deliveries?limit=2`, headers: admin() });
        assert.equal(log.statusCode, 200, log.body);
        assert.equal(log.json().deliveries.length, 2);
        assert.equal(log.json().deliveries[0].outcome, 'acknowledged');
        assert.ok(log.json().next);
      } finally {
        await receiver.close();
      }
    });

    test('after a secret rotation, deliveries verify with the new and, during the overlap, the old secret', async () => {
      const receiver = await startReceiver();
      try {
        const accountId = await producer.createAccount('rotation');
        const { id, secret: old } = await producer.createWebhook(accountId, {
          name: 'w',
          url: receiver.url,
          events: ['LEARNING_OBJECT_DRAFT'],
        });
        const rotated = await producer.app.inject({
          method: 'POST',
          url: `/v1/accounts/${accountId}/webhooks/${id}/rotate-secret`,
          headers: admin(),
        });
        const fresh = rotated.json().secret as string;
        await producer.append(accountId, 1);
        await receiver.waitFor(() => receiver.acknowledgedEvents().length === 1);
        const delivery = receiver.deliveries[0];
        assert.equal(String(delivery?.headers['webhook-signature']).split(' ').length, 2);
        for (const secret of [fresh, old ?? ''])
          assert.ok(new Webhook(secret).verify(delivery?.raw ?? '', delivery?.headers as Record<string, string>));
      } finally {
        await receiver.close();
      }
    });

    test('basic auth sends the authorization header and no signature', async () => {
      const receiver = await startReceiver();
      try {
        const accountId = await producer.createAccount('basic');
        const created = await producer.createWebhook(accountId, {
          name: 'b',
          url: receiver.url,
          events: ['LEARNING_OBJECT_DRAFT'],
          auth: { type: 'basic', username: 'u', password: 'p' },
        });
        assert.equal(created.secret, undefined);
        assert.ok(!JSON.stringify(created).includes('"p"'), 'the password is never shown');
        await producer.append(accountId, 1);
        await receiver.waitFor(() => receiver.acknowledgedEvents().length === 1);
        assert.equal(receiver.deliveries[0]?.headers.authorization, `Basic ${Buffer.from('u:p').toString('base64')}`);
        assert.equal(receiver.deliveries[0]?.headers['webhook-signature'], undefined);
      } finally {
        await receiver.close();
      }
    });

    test('events of a non-ACTIVE account wait, and flow once it is ACTIVE again', async () => {
      const receiver = await startReceiver();
      try {
        const accountId = await producer.createAccount('paused-account');
        await producer.createWebhook(accountId, { name: 'w', url: receiver.url, events: ['LEARNING_OBJECT_DRAFT'] });
        await updateAccount(producer.context, accountId, { status: 'TRIAL' });
        // Three looks of the dispatcher after the append (the one it wakes, and two polls) pass the webhook over.
        const looked = signalled(producer.context.signals, 'dispatcher-scanned', 3);
        const ids = await producer.append(accountId, 2);
        await looked;
        assert.equal(receiver.deliveries.length, 0);
        await updateAccount(producer.context, accountId, { status: 'ACTIVE' });
        await receiver.waitFor(() => receiver.acknowledgedEvents().length === 2);
        assert.deepEqual(receiver.acknowledgedEvents(), ids);
      } finally {
        await receiver.close();
      }
    });

    test('410 Gone disables the webhook at once; re-enabling resumes from the cursor with the same batch', async () => {
      let gone = true;
      const receiver = await startReceiver(() => ({ status: gone ? 410 : 202 }));
      try {
        const accountId = await producer.createAccount('gone');
        const { id } = await producer.createWebhook(accountId, { name: 'w', url: receiver.url, events: ['LEARNING_OBJECT_DRAFT'] });
        const ids = await producer.append(accountId, 2);
        await receiver.waitFor(() => receiver.deliveries.length === 1);
        const url = `/v1/accounts/${accountId}/webhooks/${id}`;
        const webhook = await untilSignalled(
          producer.context.signals,
          ['webhook-released', 'dispatcher-scanned'],
          async () => {
            const current = (await producer.app.inject({ url, headers: admin() })).json();
            return current.state === 'disabled' ? current : undefined;
          },
          { what: 'the webhook disabled after 410' },
        );
        assert.equal(webhook.state, 'disabled');
        assert.equal(webhook.active, false);
        assert.match(webhook.disabledReason, /410/);
        gone = false;
        await producer.app.inject({ method: 'PATCH', url, headers: admin(), payload: { active: true } });
        await receiver.waitFor(() => receiver.acknowledgedEvents().length === 2);
        assert.deepEqual(receiver.acknowledgedEvents(), ids);
        assert.equal(receiver.deliveries[1]?.headers['webhook-id'], receiver.deliveries[0]?.headers['webhook-id']);
      } finally {
        await receiver.close();
      }
    });

    test('a scan that fails leaves the next poll armed: a due retry is sent once the store answers again', async () => {
      // Its own producer: retries due within a second, polls every 100 ms.
      const quick = await startTestProducer(dialect, { retryInitialMs: 800, retryJitter: 0, pollIntervalMs: 100 });
      let answered = 0;
      const receiver = await startReceiver(() => ({ status: answered++ === 0 ? 500 : 202 }));
      const { db } = quick.context.database;
      try {
        const accountId = await quick.createAccount('scan-fails');
        const released = signalled(quick.context.signals, 'webhook-released');
        await quick.createWebhook(accountId, { name: 'w', url: receiver.url, events: ['LEARNING_OBJECT_DRAFT'] });
        const ids = await quick.append(accountId, 1);
        await receiver.waitFor(() => receiver.deliveries.length === 1);
        await released;
        // Every scan fails while the webhooks table is away (a real error from the store, as a lost connection gives).
        await sql`ALTER TABLE webhooks RENAME TO webhooks_away`.execute(db);
        await signalled(quick.context.signals, 'dispatcher-scanned');
        await new Promise((resolve) => setTimeout(resolve, 1000));
        assert.equal(receiver.deliveries.length, 1, 'nothing is sent while the store fails');
        await sql`ALTER TABLE webhooks_away RENAME TO webhooks`.execute(db);
        // Nothing is appended and nothing changes: only the dispatcher's own poll can send the retry now.
        await receiver.waitFor(() => receiver.acknowledgedEvents().length === 1, 10_000);
        assert.deepEqual(receiver.acknowledgedEvents(), ids);
      } finally {
        await receiver.close();
        await quick.stop();
      }
    });

    test('replay re-delivers as new batches flagged as replays; test sends a sample outside the sequence', async () => {
      const receiver = await startReceiver();
      try {
        const accountId = await producer.createAccount('replay');
        const { id } = await producer.createWebhook(accountId, { name: 'w', url: receiver.url, events: ['LEARNING_OBJECT_DRAFT'] });
        const since = new Date().toISOString();
        const ids = await producer.append(accountId, 4);
        await receiver.waitFor(() => receiver.acknowledgedEvents().length === 4);
        await waitForCursor(accountId, id, 4);
        const base = `/v1/accounts/${accountId}/webhooks/${id}`;
        const replay = await producer.app.inject({ method: 'POST', url: `${base}/replay`, headers: admin(), payload: { since } });
        assert.equal(replay.statusCode, 202);
        await receiver.waitFor(() => receiver.acknowledgedEvents().length === 8);
        assert.deepEqual(receiver.acknowledgedEvents(), [...ids, ...ids]);
        const replayed = receiver.deliveries.filter((delivery) => delivery.headers['learnhook-replay'] === 'true');
        assert.equal(replayed.length, 2);
        const firstIds = new Set(receiver.deliveries.slice(0, 2).map((delivery) => delivery.headers['webhook-id']));
        for (const delivery of replayed) assert.ok(!firstIds.has(delivery.headers['webhook-id']), 'replays are new batches');
        assert.equal(replayed[0]?.headers['learnhook-sequence'], '5-7');
        const sample = await producer.app.inject({ method: 'POST', url: `${base}/test`, headers: admin() });
        assert.equal(sample.json().acknowledged, true);
        const testDelivery = receiver.deliveries.at(-1);
        assert.equal(testDelivery?.headers['learnhook-test'], 'true');
        assert.equal(testDelivery?.headers['learnhook-sequence'], undefined);
        assert.equal(testDelivery?.body.events[0]?.eventName, 'LEARNING_OBJECT_DRAFT');
      } finally {
        await receiver.close();
      }
    });

    test('the API validates webhooks, hides secrets, limits their number and answers 404 to other accounts', async () => {
      const accountId = await producer.createAccount('api');
      const base = `/v1/accounts/${accountId}/webhooks`;
      const post = (payload: Record<string, unknown>, headers = admin()) =>
        producer.app.inject({ method: 'POST', url: base, headers, payload });
      const trial = await producer.createAccount('trial');
      await updateAccount(producer.context, trial, { status: 'TRIAL' });
      const onTrial = await producer.app.inject({
        method: 'POST',
        url: `/v1/accounts/${trial}/webhooks`,
        headers: admin(),
        payload: { name: 'x', url: 'http://127.0.0.1:9/x', events: ['CI_STATS'] },
      });
      assert.equal(onTrial.statusCode, 422, 'webhooks only for ACTIVE accounts');
      const unknownEvent = await post({ name: 'x', url: 'http://127.0.0.1:9/x', events: ['NOPE'] });
      assert.equal(unknownEvent.statusCode, 400);
      assert.match(unknownEvent.json().error.message, /NOPE/);
      assert.equal((await post({ name: 'x', url: 'ftp://127.0.0.1/x', events: ['CI_STATS'] })).statusCode, 400);
      const created = await post({ name: 'x', url: 'http://127.0.0.1:9/x', events: ['CI_STATS'] });
      assert.equal(created.statusCode, 201);
      const { id, secret } = created.json();
      const shown = await producer.app.inject({ url: `${base}/${id}`, headers: admin() });
      assert.ok(!shown.body.includes(secret));
      const rotated = await producer.app.inject({ method: 'POST', url: `${base}/${id}/rotate-secret`, headers: admin() });
      assert.match(rotated.json().secret, /^whsec_/);
      assert.notEqual(rotated.json().secret, secret);
      for (let index = 1; index < 5; index++)
        assert.equal((await post({ name: `x${index}`, url: 'http://127.0.0.1:9/x', events: ['CI_STATS'] })).statusCode, 201);
      assert.equal((await post({ name: 'x6', url: 'http://127.0.0.1:9/x', events: ['CI_STATS'] })).statusCode, 409);
      const otherToken = (await producer.app.inject({ method: 'GET', url: '/v1/accounts', headers: admin() })).statusCode;
      assert.equal(otherToken, 200);
      const otherAccount = await createAccount(producer.context, { name: 'other' });
      const foreign = await producer.app.inject({ url: `${base}/${id}`, headers: { authorization: `Bearer ${otherAccount.token}` } });
      assert.equal(foreign.statusCode, 404);
      assert.equal((await producer.app.inject({ method: 'DELETE', url: `${base}/${id}`, headers: admin() })).statusCode, 204);
      assert.equal((await producer.app.inject({ url: `${base}/${id}`, headers: admin() })).statusCode, 404);
      const metrics = await producer.app.inject({ url: '/metrics' });
      assert.match(metrics.body, /learnhook_deliveries_total\{outcome="acknowledged"\} \d+/);
      assert.match(metrics.body, /learnhook_delivery_backlog_events \d+/);
    });
  });
}
