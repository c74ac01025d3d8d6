// The enricher against the real platform (`startProducer`): names, states, seat limits and users end up in the tables,
// and its calls, counted on the wire in front of the platform, never exceed a low limit.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { dropTestDatabase, testDialects } from '../../test/support/test-databases.ts';
import { loadSettings } from '../config.ts';
import { type RunningProducer, startProducer } from '../server.ts';
import { type RunningMirror, startMirror } from './start-mirror.ts';

const dialects = await testDialects();
const adminToken = 'lh_admin_enricher_test';

async function call(producer: RunningProducer, method: string, path: string, body?: unknown, token = adminToken) {
  const response = await fetch(`${producer.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await response.json()) as Record<string, unknown>;
  assert.ok(response.ok, `${method} ${path} answered ${response.status}: ${JSON.stringify(json)}`);
  return json;
}

/** Sends the account's whole log to the mirror, as a webhook would. */
async function deliverLog(producer: RunningProducer, mirror: RunningMirror, accountId: number): Promise<void> {
  const { events } = (await call(producer, 'GET', `/v1/accounts/${accountId}/events?limit=1000`)) as {
    events: Array<Record<string, unknown>>;
  };
  const response = await fetch(`${mirror.url}/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ accountId, events: events.map(({ seq: _seq, ...event }) => event) }),
  });
  assert.equal(response.status, 202);
  await mirror.projector.drain();
  // Another mirror on the database may hold the account (one projector per account): wait until its rows are applied.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const pending = await mirror.context.database.db
      .selectFrom('inbox')
      .select('id')
      .where('processed_at', 'is', null)
      .where('failed_at', 'is', null)
      .execute();
    if (pending.length === 0) return;
    if (Date.now() > deadline) throw new Error(`${pending.length} inbox rows were not applied in time`);
    await sleep(50);
  }
}

async function waitForEnrichment(mirror: RunningMirror, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const queued = await mirror.context.database.db.selectFrom('enrichment_queue').select('entity_id').execute();
    if (queued.length === 0) return;
    await sleep(50);
  }
  throw new Error('the enrichment queue did not empty in time');
}

/** A loopback proxy in front of the platform that notes when each read-API call arrived and what it was answered. */
async function countingProxy(target: string) {
  const calls: Array<{ at: number; status: number }> = [];
  const server = http.createServer((request, response) => {
    const at = Date.now();
    const upstream = http.request(`${target}${request.url}`, { method: request.method, headers: request.headers }, (answer) => {
      calls.push({ at, status: answer.statusCode ?? 0 });
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    });
    request.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls, close: () => server.close() };
}

for (const dialect of dialects) {
  describe(`mirror enricher on ${dialect.name}`, { skip: dialect.skip }, () => {
    test('LO names and states, instance states and seat limits, user names and e-mails match the platform', async () => {
      const producerDb = await dialect.freshUrl();
      const mirrorDb = await dialect.freshUrl();
      const producer = await startProducer(
        loadSettings({ db: producerDb, port: 0, adminToken, logLevel: 'silent', progressDelay: { minMs: 0, maxMs: 0 } }, {}),
        { dispatch: false },
      );
      let mirror: RunningMirror | undefined;
      try {
        const account = (await call(producer, 'POST', '/v1/accounts', { name: 'Enrich Co' })) as { id: number; token: string };
        const base = `/v1/accounts/${account.id}`;
        const ada = (await call(producer, 'POST', `${base}/users`, { name: 'Ada Lovelace', email: 'ada@example.com' })) as { id: number };
        const alan = (await call(producer, 'POST', `${base}/users`, { name: 'Alan Turing', email: 'alan@example.com' })) as { id: number };
        const course = (await call(producer, 'POST', `${base}/learning-objects`, { loType: 'course', name: 'Analytical Engines' })) as {
          id: string;
        };
        await call(producer, 'POST', `${base}/learning-objects/${course.id}/publish`);
        const first = (await call(producer, 'POST', `${base}/learning-objects/${course.id}/instances`, {
          name: 'Spring',
          seatLimit: 30,
        })) as {
          id: string;
        };
        await call(producer, 'POST', `${base}/learning-objects/${course.id}/instances`, {
          name: 'Autumn',
          seatLimit: 12,
          waitlistLimit: 3,
        });
        const retiring = (await call(producer, 'POST', `${base}/learning-objects`, { loType: 'course', name: 'Punched Cards' })) as {
          id: string;
        };
        await call(producer, 'POST', `${base}/learning-objects/${retiring.id}/publish`);
        await call(producer, 'POST', `${base}/learning-objects/${retiring.id}/instances`, { name: 'Only run' });
        await call(producer, 'POST', `${base}/learning-objects/${retiring.id}/retire`);
        await call(producer, 'POST', `${base}/enrollments`, { userId: ada.id, loInstanceId: first.id, actor: 'learner' });
        await call(producer, 'POST', `${base}/enrollments`, { userId: alan.id, loInstanceId: first.id, actor: 'admin' });

        mirror = await startMirror(
          loadSettings({ db: mirrorDb, port: 0, logLevel: 'silent', api: producer.url, apiToken: account.token }, {}),
        );
        await deliverLog(producer, mirror, account.id);
        await waitForEnrichment(mirror, 20_000);

        const { db } = mirror.context.database;
        const platformLos = (await call(
          producer,
          'GET',
          `/primeapi/v2/learningObjects?page[limit]=100&include=instances`,
          undefined,
          account.token,
        )) as {
          data: Array<{ id: string; attributes: { state: string; localizedMetadata: Array<{ name: string }> } }>;
          included: Array<{
            id: string;
            attributes: {
              state: string;
              seatLimit: number | null;
              waitlistLimit: number | null;
              localizedMetadata: Array<{ name: string }>;
            };
          }>;
        };
        const mirrorLos = await db
          .selectFrom('learning_objects')
          .selectAll()
          .where('account_id', '=', account.id)
          .orderBy('lo_id')
          .execute();
        assert.deepEqual(
          mirrorLos.map((row) => [row.lo_id, row.name, row.state]),
          platformLos.data.map((lo) => [lo.id, lo.attributes.localizedMetadata[0]?.name, lo.attributes.state]).sort(),
        );
        const mirrorInstances = await db
          .selectFrom('lo_instances')
          .selectAll()
          .where('account_id', '=', account.id)
          .orderBy('lo_instance_id')
          .execute();
        assert.deepEqual(
          mirrorInstances.map((row) => [row.lo_instance_id, row.name, row.state, row.seat_limit, row.waitlist_limit]),
          platformLos.included
            .map((instance) => [
              instance.id,
              instance.attributes.localizedMetadata[0]?.name,
              instance.attributes.state,
              instance.attributes.seatLimit,
              instance.attributes.waitlistLimit,
            ])
            .sort(),
        );
        assert.ok(mirrorInstances.some((row) => row.lo_id === retiring.id && row.state === 'Retired'));
        const users = await db.selectFrom('users').selectAll().where('account_id', '=', account.id).orderBy('user_id').execute();
        assert.deepEqual(
          users.map((row) => [row.user_id, row.name, row.email]),
          [
            [ada.id, 'Ada Lovelace', 'ada@example.com'],
            [alan.id, 'Alan Turing', 'alan@example.com'],
          ],
        );

        // A later modification is fetched again.
        await call(producer, 'PATCH', `${base}/learning-objects/${course.id}`, { name: 'Analytical Engines II' });
        await deliverLog(producer, mirror, account.id);
        await waitForEnrichment(mirror, 20_000);
        const renamed = await db.selectFrom('learning_objects').select('name').where('lo_id', '=', course.id).executeTakeFirstOrThrow();
        assert.equal(renamed.name, 'Analytical Engines II');
      } finally {
        await mirror?.stop();
        await producer.stop();
        await dropTestDatabase(mirrorDb);
        await dropTestDatabase(producerDb);
      }
    });

    test('with a low limit, the calls counted in front of the platform never exceed it in any window', async () => {
      const limit = 3;
      const windowMs = 1000;
      // The platform counts arrivals: a call delayed on a busy machine may arrive closer to the next one than the
      // mirror sent them; the platform's window and the check below allow that much jitter.
      const jitterMs = 200;
      const producerDb = await dialect.freshUrl();
      const mirrorDb = await dialect.freshUrl();
      const producer = await startProducer(
        loadSettings(
          { db: producerDb, port: 0, adminToken, logLevel: 'silent', apiRateLimit: limit, apiRateWindowMs: windowMs - jitterMs },
          {},
        ),
        { dispatch: false },
      );
      const proxy = await countingProxy(producer.url as string);
      let mirror: RunningMirror | undefined;
      let second: RunningMirror | undefined;
      try {
        const account = (await call(producer, 'POST', '/v1/accounts', { name: 'Budget Co' })) as { id: number; token: string };
        const base = `/v1/accounts/${account.id}`;
        for (let index = 0; index < 50; index++) {
          await call(producer, 'POST', `${base}/learning-objects`, { loType: 'course', name: `Course ${index}` });
        }
        const settings = loadSettings(
          {
            db: mirrorDb,
            port: 0,
            logLevel: 'silent',
            api: proxy.url,
            apiToken: account.token,
            enrichRateLimit: limit,
            enrichRateWindowMs: windowMs,
          },
          {},
        );
        mirror = await startMirror(settings);
        // On PostgreSQL a second mirror shares the database, its queue and its budget, as a second process would.
        // (Two SQLite connections in one process would block each other's event loop; separate processes do not.)
        if (dialect.name === 'postgres') second = await startMirror(settings);
        await deliverLog(producer, mirror, account.id);
        await waitForEnrichment(mirror, 30_000);
        const calls = proxy.calls.filter((entry) => entry.status !== 0);
        // Ten ids a call at most, so five calls at least; two mirrors may each take a partial batch, so a few more.
        assert.ok(calls.length >= 5 && calls.length <= 8, `fifty LOs should take five to eight calls: ${JSON.stringify(calls)}`);
        assert.deepEqual(
          calls.filter((entry) => entry.status === 429),
          [],
          'the platform never had to refuse a call',
        );
        for (const entry of calls) {
          const inWindow = calls.filter((other) => other.at >= entry.at && other.at < entry.at + windowMs - jitterMs);
          assert.ok(inWindow.length <= limit, `${inWindow.length} calls within ${windowMs - jitterMs} ms of ${entry.at}`);
        }
        const named = await mirror.context.database.db
          .selectFrom('learning_objects')
          .select('name')
          .where('name', 'is not', null)
          .execute();
        assert.equal(named.length, 50);
      } finally {
        await second?.stop();
        await mirror?.stop();
        proxy.close();
        await producer.stop();
        await dropTestDatabase(mirrorDb);
        await dropTestDatabase(producerDb);
      }
    });
  });
}
