// The attempts log gives back the body a delivery sent, made again from the log's events, cut at 64 KiB like a stored one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testDialects } from '../../test/support/test-databases.ts';
import { loadSettings } from '../config.ts';
import { createLogger, createProducerContext } from '../context.ts';
import { createAccount } from '../platform/accounts.ts';
import { appendEvents, newEvent } from '../platform/event-log.ts';
import type { ProducerSchema } from '../store/schema.ts';
import { createWebhook } from '../webhooks/webhooks.ts';
import { exchangeColumns, requestBodyLimit } from './attempt-log.ts';
import { envelopeBody } from './build-delivery.ts';
import { listDeliveries } from './list-deliveries.ts';
import { readLoggedEvents } from './read-ahead.ts';

for (const dialect of await testDialects()) {
  test(`on ${dialect.name}, a body over 64 KiB made again from the log is cut like a stored one, with its full size`, {
    skip: dialect.skip,
  }, async (t) => {
    const database = await dialect.open<ProducerSchema>('producer');
    t.after(() => database.close());
    const settings = loadSettings({ logLevel: 'silent', allowPrivateTargets: true }, {});
    const context = createProducerContext(settings, database, { logger: createLogger('silent') });
    const account = await createAccount(context, { name: 'bodies' });
    const webhook = await createWebhook(context, account.id, {
      name: 'w',
      url: 'http://127.0.0.1:9/hook',
      events: ['LEARNING_OBJECT_DRAFT'],
      auth: { type: 'none' },
    });
    const events = Array.from({ length: 150 }, (_, n) =>
      newEvent('LEARNING_OBJECT_DRAFT', { loId: `course:${n + 1}`, loType: 'course', note: 'é'.repeat(300) }, Date.now(), `t-${n}`),
    );
    await database.db.transaction().execute((trx) => appendEvents(trx, account.id, events, Date.now()));
    const seqs = Array.from({ length: 150 }, (_, n) => n + 1);
    const body = envelopeBody(account.id, await readLoggedEvents(context, account.id, seqs));
    assert.ok(Buffer.byteLength(body) > requestBodyLimit);
    const attempt = {
      account_id: account.id,
      webhook_id: webhook.id,
      batch_id: 'msg_test',
      kind: 'delivery' as const,
      first_seq: 1,
      last_seq: 150,
      delivery_first: 1,
      delivery_last: 150,
      event_count: 150,
      attempt: 1,
      started_at: Date.now(),
      duration_ms: 3,
      status_code: 202,
      outcome: 'acknowledged' as const,
      cause: null,
      error: null,
    };
    const request = { url: 'http://127.0.0.1:9/hook', body, headers: {} };
    await database.db
      .insertInto('delivery_attempts')
      .values({ ...attempt, ...exchangeColumns(request, { responseBody: null }, seqs) })
      .execute();
    const [shown] = (await listDeliveries(context, account.id, webhook.id, { limit: 10 })).deliveries;
    const expected = Buffer.from(body).subarray(0, requestBodyLimit).toString('utf8');
    assert.equal(shown?.request?.body, expected);
    assert.equal(shown?.request?.bytes, Buffer.byteLength(body));
    assert.equal(shown?.request?.truncated, true);
  });
}
