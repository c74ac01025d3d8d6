// The read endpoints and actions the dashboard uses, on both stores: retry now, the exchange kept in the attempts log,
// one-time sign-in links, /v1/me, the catalog, the live SSE stream, and the static pages.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventNames } from '../src/catalog/index.ts';
import { responseBodyLimit } from '../src/delivery/send-delivery.ts';
import { createAccount } from '../src/platform/accounts.ts';
import { testDialects } from './support/test-databases.ts';
import { startTestProducer, type TestProducer } from './support/test-producer.ts';
import { startReceiver } from './support/test-receiver.ts';

const dialects = await testDialects();

/** Reads SSE messages from a live stream until `done` says enough; the stream is closed afterwards. */
async function readStream(url: string, token: string, done: (messages: { event: string; data: unknown }[]) => boolean) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 60_000);
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
  const messages: { event: string; data: unknown }[] = [];
  if (!response.ok || !response.body) {
    clearTimeout(timer);
    return { status: response.status, messages, body: await response.text() };
  }
  let buffer = '';
  const decoder = new TextDecoder();
  try {
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.+)$/m.exec(block)?.[1];
        const data = /^data: (.+)$/m.exec(block)?.[1];
        if (event && data) messages.push({ event, data: JSON.parse(data) });
      }
      if (done(messages)) break;
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return { status: response.status, messages, body: '' };
}

for (const dialect of dialects) {
  describe(`dashboard API on ${dialect.name}`, { skip: dialect.skip }, () => {
    let producer: TestProducer;
    let base: string;
    const call = async (method: string, url: string, options: { token?: string; body?: unknown } = {}) => {
      const response = await producer.app.inject({
        method: method as 'GET',
        url,
        headers: { authorization: `Bearer ${options.token ?? producer.adminToken}` },
        ...(options.body === undefined ? {} : { payload: options.body as Record<string, unknown> }),
      });
      return { status: response.statusCode, body: response.body ? (response.json() as Record<string, unknown>) : {} };
    };

    before(async () => {
      // The first retry is ten minutes away: a second attempt within the test can only come from "retry now".
      producer = await startTestProducer(dialect, { retryInitialMs: 600_000, retryMaxMs: 600_000, pollIntervalMs: 100 });
      base = (await producer.app.listen({ port: 0, host: '127.0.0.1' })).replace('[::1]', '127.0.0.1');
    });
    after(async () => {
      await producer?.stop();
    });

    test('retry now sends a failing webhook’s batch at once; a paused webhook is refused', async () => {
      const receiver = await startReceiver((_, index) => (index === 0 ? { status: 503, body: 'down for maintenance' } : { status: 202 }));
      try {
        const accountId = await producer.createAccount('retry');
        const webhook = await producer.createWebhook(accountId, { name: 'r', url: receiver.url, events: ['LEARNING_OBJECT_DRAFT'] });
        const ids = await producer.append(accountId, 2);
        await receiver.waitFor(() => receiver.deliveries.length === 1);
        const path = `/v1/accounts/${accountId}/webhooks/${webhook.id}`;
        const waiting = await (async () => {
          for (;;) {
            const stats = await call('GET', `${path}/stats`);
            if (stats.body.nextAttemptAt) return stats.body;
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        })();
        assert.ok(Date.parse(String(waiting.nextAttemptAt)) > Date.now() + 60_000, 'the next attempt is scheduled minutes away');

        const retried = await call('POST', `${path}/retry`);
        assert.equal(retried.status, 202);
        assert.equal(retried.body.wasWaiting, true);
        await receiver.waitFor(() => receiver.acknowledgedEvents().length === 2);
        assert.deepEqual(receiver.acknowledgedEvents(), ids);
        assert.equal(receiver.deliveries[1]?.headers['webhook-id'], receiver.deliveries[0]?.headers['webhook-id'], 'the same batch again');

        assert.equal((await call('PATCH', path, { body: { active: false } })).status, 200);
        const paused = await call('POST', `${path}/retry`);
        assert.equal(paused.status, 409);
        assert.match(String((paused.body.error as { message: string }).message), /paused; activate it/);
        assert.equal((await call('POST', `/v1/accounts/${accountId}/webhooks/wh_nope/retry`)).status, 404);
      } finally {
        await receiver.close();
      }
    });

    test('the attempts log keeps the request as sent and the head of the answer', async () => {
      const long = 'x'.repeat(responseBodyLimit * 3);
      const receiver = await startReceiver(() => ({ status: 500, headers: { 'content-type': 'text/plain' }, body: `no: ${long}` }));
      try {
        const accountId = await producer.createAccount('exchange');
        const webhook = await producer.createWebhook(accountId, {
          name: 'e',
          url: receiver.url,
          events: ['LEARNING_OBJECT_DRAFT'],
          auth: { type: 'basic', username: 'hook', password: 's3cret-password' },
        });
        await producer.append(accountId, 1);
        await receiver.waitFor(() => receiver.deliveries.length === 1);
        const received = receiver.deliveries[0];
        let attempt: Record<string, unknown> | undefined;
        // The failure is logged just after the answer arrives; SQLite answers without yielding, so wait between looks.
        while (!attempt) {
          const page = await call('GET', `/v1/accounts/${accountId}/webhooks/${webhook.id}/deliveries`);
          attempt = (page.body.deliveries as Record<string, unknown>[])[0];
          if (!attempt) await new Promise((resolve) => setTimeout(resolve, 20));
        }
        const request = attempt.request as { headers: Record<string, string>; body: string; bytes: number; truncated: boolean };
        assert.equal(request.body, received?.raw, 'the body is the one the receiver got, byte for byte');
        assert.equal(request.bytes, Buffer.byteLength(received?.raw ?? ''));
        assert.equal(request.truncated, false);
        assert.equal(request.headers['webhook-id'], received?.headers['webhook-id']);
        assert.equal(request.headers['learnhook-sequence'], received?.headers['learnhook-sequence']);
        assert.equal(request.headers['content-type'], 'application/json');
        assert.match(String(received?.headers.authorization), /^Basic /);
        assert.equal(request.headers.authorization, 'Basic ••••••', 'the password never comes back through the API');
        const response = attempt.response as { status: number; body: string };
        assert.equal(response.status, 500);
        assert.equal(response.body, `no: ${long}`.slice(0, responseBodyLimit), 'the answer is kept up to 4 KiB');

        // The body is kept as the sequences of the events it carried and made again from the log: once retention has
        // purged them, the log shows the headers and no body.
        const { db } = producer.context.database;
        const stored = await db.selectFrom('delivery_attempts').selectAll().where('webhook_id', '=', webhook.id).executeTakeFirstOrThrow();
        assert.equal(stored.request_body, null);
        assert.equal(stored.request_seqs, '[1]');
        await db.deleteFrom('events').where('account_id', '=', accountId).execute();
        const purged = await call('GET', `/v1/accounts/${accountId}/webhooks/${webhook.id}/deliveries`);
        const after = (purged.body.deliveries as { request: { body: string | null; bytes: number; headers: object } }[])[0]?.request;
        assert.equal(after?.body, null);
        assert.equal(after?.bytes, Buffer.byteLength(received?.raw ?? ''));
        assert.deepEqual(after?.headers, request.headers);
      } finally {
        await receiver.close();
      }
    });

    test('a one-time sign-in code gives the token that asked for it, once; /v1/me says who a token is', async () => {
      const account = await createAccount(producer.context, { name: 'sign-in', contactEmail: null });
      const accountId = account.id;
      const link = await call('POST', '/v1/sign-in-links', { token: account.token });
      assert.equal(link.status, 201);
      assert.equal(link.body.path, `/#code=${link.body.code}`);
      const exchange = () => producer.app.inject({ method: 'POST', url: '/v1/sign-in', payload: { code: String(link.body.code) } });
      const first = await exchange();
      assert.equal(first.statusCode, 200);
      assert.equal(first.json().token, account.token);
      const second = await exchange();
      assert.equal(second.statusCode, 401);
      assert.match(second.json().error.message, /used already or has expired/);
      assert.deepEqual((await call('GET', '/v1/me', { token: account.token })).body, { kind: 'account', accountId });
      assert.deepEqual((await call('GET', '/v1/me')).body, { kind: 'admin' });
      assert.equal((await call('GET', '/v1/me', { token: 'lh_acct_unknown' })).status, 401);
      assert.equal((await call('POST', '/v1/sign-in-links', { token: 'lh_acct_unknown' })).status, 401);
    });

    test('the catalog lists every event with its class, schema and sample', async () => {
      const catalog = await call('GET', '/v1/catalog');
      const events = catalog.body.events as { name: string; class: string; schema: unknown; sample: { eventName: string } }[];
      assert.deepEqual(
        events.map((event) => event.name),
        [...eventNames],
      );
      for (const event of events) {
        assert.ok(event.class === 'realtime' || event.class === 'batch');
        assert.equal(typeof event.schema, 'object');
        assert.equal(event.sample.eventName, event.name);
      }
    });

    test('the live stream sends new log events and the webhooks’ state, and only to who may see the account', async () => {
      const receiver = await startReceiver();
      try {
        const accountId = await producer.createAccount('live');
        const otherToken = (await createAccount(producer.context, { name: 'other', contactEmail: null })).token;
        const webhook = await producer.createWebhook(accountId, { name: 'l', url: receiver.url, events: ['LEARNING_OBJECT_DRAFT'] });
        const before = await producer.append(accountId, 2);
        let appended: string[] = [];
        let appending = false;
        const stream = readStream(`${base}/v1/accounts/${accountId}/live`, producer.adminToken, (messages) => {
          const logged = messages
            .filter((message) => message.event === 'log')
            .flatMap((message) => (message.data as { events: { eventId: string }[] }).events);
          const hooks = messages.filter((message) => message.event === 'webhooks');
          if (logged.length === 2 && !appending) {
            // Once: the stream's next chunk may arrive before the append has finished.
            appending = true;
            void producer.append(accountId, 3).then((ids) => {
              appended = ids;
            });
          }
          return appended.length > 0 && logged.length === 5 && hooks.length > 0;
        });
        const { status, messages } = await stream;
        assert.equal(status, 200);
        const logged = messages
          .filter((message) => message.event === 'log')
          .flatMap((message) => (message.data as { events: { eventId: string }[] }).events.map((event) => event.eventId));
        assert.deepEqual(logged, [...before, ...appended], 'the newest events first, then new ones as they are logged, in order');
        const hooks = messages.find((message) => message.event === 'webhooks')?.data as { id: string; stats: { cursor: number } }[];
        assert.equal(hooks[0]?.id, webhook.id);
        assert.equal(typeof hooks[0]?.stats.cursor, 'number');

        const filtered = await readStream(`${base}/v1/accounts/${accountId}/live?after=0&events=CI_STATS`, producer.adminToken, () => true);
        assert.equal(filtered.messages.filter((message) => message.event === 'log').length, 0, 'no CI_STATS in this log');
        const refused = await readStream(`${base}/v1/accounts/${accountId}/live`, otherToken, () => true);
        assert.equal(refused.status, 404);
      } finally {
        await receiver.close();
      }
    });

    test('the dashboard is served at / with its assets', async () => {
      const page = await fetch(`${base}/`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /text\/html/);
      assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
      assert.match(await page.text(), /<script type="module" src="\/assets\/dashboard.js">/);
      const script = await fetch(`${base}/assets/dashboard.js`);
      assert.match(script.headers.get('content-type') ?? '', /javascript/);
      const etag = script.headers.get('etag') ?? '';
      assert.equal((await fetch(`${base}/assets/dashboard.js`, { headers: { 'if-none-match': etag } })).status, 304);
      // A missing file is refused like every other route: a JSON error an operator can read, not bare text.
      const missing = await fetch(`${base}/assets/nothing.js`);
      assert.equal(missing.status, 404);
      assert.deepEqual(await missing.json(), {
        error: { code: 'not_found', message: 'nothing.js is not a file of this page (see / for the page)' },
      });
      const docs = (await (await fetch(`${base}/docs`)).json()) as { paths: Record<string, unknown> };
      for (const path of [
        '/v1/me',
        '/v1/sign-in',
        '/v1/catalog',
        '/v1/accounts/{accountId}/live',
        '/v1/accounts/{accountId}/webhooks/{webhookId}/retry',
      ])
        assert.ok(docs.paths[path], `${path} is in the OpenAPI document`);
    });
  });
}
