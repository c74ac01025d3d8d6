import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { dropTestDatabase, testDialects } from '../../test/support/test-databases.ts';
import { testSecretKey } from '../../test/support/test-platform.ts';
import { startReceiver } from '../../test/support/test-receiver.ts';
import { sampleEvent } from '../catalog/samples.ts';
import { ConfigError, loadSettings, type Settings } from '../config.ts';
import { createProducerContext } from '../context.ts';
import { deliversInThread, startProducer } from '../server.ts';
import { openDatabase } from '../store/database.ts';
import type { ProducerSchema } from '../store/schema.ts';
import { startDeliveryThread } from './delivery-thread.ts';

const dialects = await testDialects();
const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures');

function settingsFor(db: string, overrides: Partial<Settings> = {}): Settings {
  return loadSettings(
    {
      db,
      port: 0,
      adminToken: 'thread-admin',
      allowPrivateTargets: true,
      logLevel: 'silent',
      secretKey: testSecretKey,
      // Nothing is found by looking: every delivery below needs a wake-up from the API's thread.
      pollIntervalMs: 3_600_000,
      ...overrides,
    },
    {},
  );
}

describe('where serve delivers (deliversInThread)', () => {
  const on = (db: string, deliveryThread: string, cores: number) => deliversInThread(settingsFor(db, { deliveryThread }), cores);
  test('auto: on a thread of its own for a SQLite file with two cores or more, nowhere else', () => {
    assert.equal(on('sqlite:/tmp/a.db', 'auto', 2), true);
    assert.equal(on('sqlite:/tmp/a.db', 'auto', 1), false);
    assert.equal(on('sqlite::memory:', 'auto', 8), false);
    assert.equal(on('postgres://postgres@127.0.0.1:5432/x', 'auto', 8), false);
  });
  test('on and off are obeyed; on with a database in memory is refused with the reason', () => {
    assert.equal(on('postgres://postgres@127.0.0.1:5432/x', 'on', 1), true);
    assert.equal(on('sqlite:/tmp/a.db', 'off', 8), false);
    assert.throws(
      () => on('sqlite::memory:', 'on', 2),
      (error: Error) => error instanceof ConfigError && /in memory/.test(error.message),
    );
  });
});

for (const dialect of dialects) {
  describe(`the delivery thread on ${dialect.name}`, { skip: dialect.skip }, () => {
    test('delivers what the API thread accepts, woken by its appends and webhook changes, and shows its metrics there', async () => {
      const receiver = await startReceiver();
      const db = await dialect.freshUrl();
      const producer = await startProducer(settingsFor(db, { deliveryThread: 'on' }), { dispatch: 'thread' });
      try {
        assert.equal(producer.deliveryThread, true);
        const call = async (method: string, url: string, body: unknown, token: string) => {
          const response = await fetch(`${producer.url}${url}`, {
            method,
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify(body),
          });
          assert.ok(response.ok, `${method} ${url} answered ${response.status}: ${await response.clone().text()}`);
          return (await response.json()) as Record<string, unknown>;
        };
        const account = await call('POST', '/v1/accounts', { name: 'threaded' }, 'thread-admin');
        const accountId = Number(account.id);
        const token = String(account.token);
        const eventInfos = Array.from({ length: 30 }, (_, index) => `n${index}`);
        // Published while the webhook is paused: only the wake-up of its re-enabling can start their delivery.
        const webhook = await call(
          'POST',
          `/v1/accounts/${accountId}/webhooks`,
          { name: 'threaded', url: receiver.url, events: ['COURSE_ENROLLMENT'] },
          'thread-admin',
        );
        await call('PATCH', `/v1/accounts/${accountId}/webhooks/${webhook.id}`, { active: false }, 'thread-admin');
        for (const infos of [eventInfos.slice(0, 10), eventInfos.slice(10, 20)]) {
          const events = infos.map((eventInfo) => ({ ...sampleEvent('COURSE_ENROLLMENT'), eventId: randomUUID(), eventInfo }));
          await call('POST', `/v1/accounts/${accountId}/events`, { events }, token);
        }
        await call('PATCH', `/v1/accounts/${accountId}/webhooks/${webhook.id}`, { active: true }, 'thread-admin');
        const delivered = () => receiver.deliveries.flatMap((delivery) => delivery.body.events.map((event) => event.eventInfo));
        await receiver.waitFor(() => delivered().length >= 20, 30_000);
        // Then new events on an enabled webhook: the append's wake-up.
        const events = eventInfos.slice(20).map((eventInfo) => ({ ...sampleEvent('COURSE_ENROLLMENT'), eventId: randomUUID(), eventInfo }));
        await call('POST', `/v1/accounts/${accountId}/events`, { events }, token);
        await receiver.waitFor(() => delivered().length >= 30, 30_000);
        assert.deepEqual(delivered(), eventInfos, 'every event once, in order');

        // The thread records an acknowledgement and moves the cursor just after the receiver has answered.
        const settled = /^learnhook_events_delivered_total 30$[\s\S]*^learnhook_delivery_backlog_events 0$/m;
        let metrics = '';
        for (const deadline = Date.now() + 10_000; !settled.test(metrics) && Date.now() < deadline; ) {
          metrics = await (await fetch(`${producer.url}/metrics`)).text();
          if (!settled.test(metrics)) await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assert.match(metrics, settled, 'the API thread shows the delivery thread’s counters and backlog');
      } finally {
        await producer.stop();
        await receiver.close();
        await dropTestDatabase(db);
      }
      assert.equal(
        await Promise.race([producer.failed.then(() => 'failed'), new Promise((resolve) => setTimeout(resolve, 50, 'quiet'))]),
        'quiet',
      );
    });
  });
}

describe('a delivery thread that fails', { skip: dialects[0]?.skip }, () => {
  test('makes `failed` resolve with its reason, and its metrics are no longer asked for', async () => {
    const db = await dialects[0]!.freshUrl();
    const database = await openDatabase<ProducerSchema>(db);
    try {
      const context = createProducerContext(settingsFor(db), database);
      const thread = await startDeliveryThread(context, { entryFile: path.join(fixtures, 'failing-delivery-thread.ts') });
      const error = await thread.failed;
      assert.match(
        error?.message ?? '',
        /^the delivery thread stopped on its own \(the fixture thread fails on purpose\); webhooks are not being delivered$/,
      );
      await thread.stop();
    } finally {
      await database.close();
      await dropTestDatabase(db);
    }
  });

  test('that cannot start makes the start fail with its reason', async () => {
    const db = await dialects[0]!.freshUrl();
    const database = await openDatabase<ProducerSchema>(db);
    try {
      const context = createProducerContext(settingsFor(db), database);
      await assert.rejects(
        startDeliveryThread(context, { entryFile: path.join(fixtures, 'no-such-delivery-thread.ts') }),
        /^Error: the delivery thread could not start: .*no-such-delivery-thread/,
      );
    } finally {
      await database.close();
      await dropTestDatabase(db);
    }
  });
});
