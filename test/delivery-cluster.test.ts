// Several delivering processes on one PostgreSQL database: a lease shorter than the receiver's answer is renewed (one
// request in flight per webhook, every event delivered), and a worker killed with kill -9 mid-run is taken over at once.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { sampleEvent } from '../src/catalog/index.ts';
import { PlatformClient } from '../src/simulate/platform-client.ts';
import { openDatabase } from '../src/store/database.ts';
import type { ProducerSchema } from '../src/store/schema.ts';
import { type LearnhookProcess, learnhookProcess } from './support/learnhook-process.ts';
import { dropTestDatabase, testDialects } from './support/test-databases.ts';
import { testSecretKey } from './support/test-platform.ts';
import { freePort, type Receiver, startReceiver } from './support/test-receiver.ts';

const postgres = (await testDialects()).find((dialect) => dialect.name === 'postgres');
const adminToken = 'lh_admin_delivery_cluster';

/** A receiver that answers every delivery after `delayMs` and counts the requests in flight at once (aborted ones until their answer was due). */
async function slowReceiver(delayMs: number) {
  let inFlight = 0;
  let mostInFlight = 0;
  const receiver = await startReceiver(() => {
    inFlight++;
    mostInFlight = Math.max(mostInFlight, inFlight);
    setTimeout(() => inFlight--, delayMs);
    return { status: 200, delayMs };
  });
  return { receiver, mostInFlight: () => mostInFlight };
}

/** How many times each batch (webhook-id) was sent. */
function sendsPerBatch(receiver: Receiver): Map<string, number> {
  const sends = new Map<string, number>();
  for (const delivery of receiver.deliveries) {
    const id = String(delivery.headers['webhook-id']);
    sends.set(id, (sends.get(id) ?? 0) + 1);
  }
  return sends;
}

describe('delivery by several processes on PostgreSQL', { skip: postgres?.skip }, () => {
  const started: LearnhookProcess[] = [];
  const urls: string[] = [];
  const receivers: Receiver[] = [];
  const clients: PlatformClient[] = [];
  after(async () => {
    for (const client of clients) await client.close();
    for (const process of started) if (process.running) await process.stop();
    for (const receiver of receivers) await receiver.close();
    for (const url of urls) await dropTestDatabase(url);
  });

  /** A fresh database with a serve process (dispatching or not) and `workers` worker processes, all with `flags`. */
  async function cluster(name: string, options: { dispatch: boolean; workers: number; flags: string[] }) {
    const db = (await postgres?.freshUrl()) ?? '';
    urls.push(db);
    const port = await freePort();
    const common = ['--db', db, '--secret-key', testSecretKey, '--allow-private-targets', ...options.flags];
    const fail = (exit: { process: string; code: number | null; signal: string | null; output: string }) => {
      throw new Error(`${exit.process} exited by itself (${exit.code ?? exit.signal}): ${exit.output}`);
    };
    const serve = learnhookProcess(
      `${name} serve`,
      ['serve', ...common, '--port', String(port), '--admin-token', adminToken, ...(options.dispatch ? [] : ['--no-dispatch'])],
      fail,
    );
    const workers = Array.from({ length: options.workers }, (_, index) =>
      learnhookProcess(`${name} worker ${index}`, ['worker', ...common], fail),
    );
    for (const process of [serve, ...workers]) {
      started.push(process);
      await process.start();
    }
    const client = new PlatformClient(`http://127.0.0.1:${port}`, adminToken);
    clients.push(client);
    const call = (method: 'POST', path: string, body: unknown) => client.expect<{ id: number | string }>(method, path, body);
    /** `count` more events published to the account in one request (ids `NAME-from`…). */
    const publishMore = async (accountId: number | string, from: number, count: number) => {
      const events = Array.from({ length: count }, (_, index) => ({
        ...sampleEvent('COURSE_ENROLLMENT'),
        eventId: `${name}-${from + index}`,
      }));
      await call('POST', `/v1/accounts/${accountId}/events`, { events });
      return events.map((event) => event.eventId);
    };
    /** An account with one webhook to `url`, then `count` events published in one request. */
    const publish = async (url: string, count: number) => {
      const account = await call('POST', '/v1/accounts', { name: `${name} Academy` });
      const webhook = await call('POST', `/v1/accounts/${account.id}/webhooks`, { name: 'receiver', url, events: ['COURSE_ENROLLMENT'] });
      return { accountId: account.id, webhookId: String(webhook.id), eventIds: await publishMore(account.id, 0, count) };
    };
    return { db, serve, workers, publish, publishMore };
  }

  test('--lease 1s, a receiver answering after 1.5 s: one request in flight, every event once; SIGTERM mid-send finishes it, gives the lease back', async () => {
    const { receiver, mostInFlight } = await slowReceiver(1500);
    receivers.push(receiver);
    // serve delivers too: two processes compete for the webhook, as in the report of the livelock.
    const { db, serve, workers, publish, publishMore } = await cluster('slow', {
      dispatch: true,
      workers: 1,
      flags: ['--lease', '1s', '--batch-max', '10', '--poll-interval', '100ms'],
    });
    const { accountId, webhookId, eventIds } = await publish(receiver.url, 60);
    await receiver.waitFor(() => new Set(receiver.acknowledgedEvents()).size === eventIds.length, 120_000);
    assert.deepEqual(receiver.acknowledgedEvents(), eventIds, 'every event once, in order');
    assert.equal(mostInFlight(), 1, 'never two requests in flight for the webhook');
    const sends = sendsPerBatch(receiver);
    assert.equal(sends.size, 6);
    assert.deepEqual([...sends.values()], [1, 1, 1, 1, 1, 1], 'no batch was sent again');

    // Both processes stopped while a batch is in flight: the send finishes and is recorded, and no lease is left held.
    const more = await publishMore(accountId, 60, 10);
    await receiver.waitFor(() => receiver.deliveries.length === 7);
    await Promise.all([serve.stop(), ...workers.map((worker) => worker.stop())]);
    assert.deepEqual(
      receiver.deliveries.at(-1)?.body.events.map((event) => event.eventId),
      more,
    );
    assert.equal(receiver.deliveries.at(-1)?.acknowledged, true, 'the send in flight was answered, not cut');
    const database = await openDatabase<ProducerSchema>(db);
    const row = await database.db.selectFrom('webhooks').selectAll().where('id', '=', webhookId).executeTakeFirstOrThrow();
    await database.close();
    assert.equal(row.lease_owner, null, 'the lease was given back');
    assert.equal(row.batch_id, null, 'the acknowledgement of the batch in flight was recorded');
  });

  test('kill -9 of the worker holding a webhook with --lease 60s: another delivers the rest long before the lease ends', async (t) => {
    const { receiver } = await slowReceiver(200);
    receivers.push(receiver);
    const { db, workers, publish } = await cluster('takeover', {
      dispatch: false,
      workers: 2,
      flags: ['--lease', '60s', '--batch-max', '5', '--poll-interval', '1s'],
    });
    const { webhookId, eventIds } = await publish(receiver.url, 100);
    await receiver.waitFor(() => receiver.deliveries.length >= 3, 30_000);
    const database = await openDatabase<ProducerSchema>(db);
    const holder = await database.db.selectFrom('webhooks').select('lease_owner').where('id', '=', webhookId).executeTakeFirstOrThrow();
    await database.close();
    const victim = workers.find((worker) => holder.lease_owner?.endsWith(`:${worker.pid}`));
    assert.ok(victim, `a worker holds the webhook (lease owner ${holder.lease_owner})`);
    await victim.kill();
    const killedAt = performance.now();
    const seenBefore = receiver.deliveries.length;
    // The test's own timeout (30 s) is half the lease: delivery resumes only if the lease is not waited for.
    await receiver.waitFor(() => receiver.deliveries.length > seenBefore && (receiver.deliveries.at(-1)?.at ?? 0) > killedAt, 30_000);
    const resumedAfterMs = Math.round((receiver.deliveries.find((delivery) => delivery.at > killedAt)?.at ?? killedAt) - killedAt);
    t.diagnostic(`deliveries resumed ${resumedAfterMs} ms after the kill -9 (lease 60 s, poll interval 1 s)`);
    await receiver.waitFor(() => new Set(receiver.acknowledgedEvents()).size === eventIds.length, 30_000);
    assert.deepEqual([...new Set(receiver.acknowledgedEvents())], eventIds, 'every event delivered, in order');
    for (const [batch, count] of sendsPerBatch(receiver)) assert.ok(count <= 2, `batch ${batch} was sent ${count} times`);
  });
});
