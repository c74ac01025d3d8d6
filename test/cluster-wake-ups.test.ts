// Wake-ups cross processes on PostgreSQL: a worker that never polls (its poll interval is an hour) still delivers at once
// what another process's API accepted, because the API's process sends a NOTIFY that the worker LISTENs for.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sampleEvent } from '../src/catalog/index.ts';
import { loadSettings } from '../src/config.ts';
import { type RunningProducer, startProducer } from '../src/server.ts';
import { dropTestDatabase, testDialects } from './support/test-databases.ts';
import { testSecretKey } from './support/test-platform.ts';
import { type Receiver, startReceiver } from './support/test-receiver.ts';

const postgres = (await testDialects()).find((dialect) => dialect.name === 'postgres');
const adminToken = 'lh_admin_wake_ups';

describe('wake-ups between processes on PostgreSQL', { skip: postgres?.skip }, () => {
  let url: string;
  let api: RunningProducer;
  let worker: RunningProducer;
  let receiver: Receiver;

  before(async () => {
    url = (await postgres?.freshUrl()) ?? '';
    const settings = loadSettings(
      { db: url, port: 0, adminToken, logLevel: 'silent', allowPrivateTargets: true, secretKey: testSecretKey, pollIntervalMs: 3_600_000 },
      {},
    );
    api = await startProducer(settings, { dispatch: false });
    worker = await startProducer(settings, { http: false });
    receiver = await startReceiver();
  });
  after(async () => {
    await worker?.stop();
    await api?.stop();
    await receiver?.close();
    await dropTestDatabase(url);
  });

  const call = async (method: string, path: string, body: unknown) => {
    const response = await fetch(`${api.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    assert.ok(response.ok, `${method} ${path} answered ${response.status}: ${text}`);
    return JSON.parse(text) as { id: number | string };
  };

  test('events published through one process are delivered by a worker that does not poll', async () => {
    const account = await call('POST', '/v1/accounts', { name: 'Wake-up Academy' });
    await call('POST', `/v1/accounts/${account.id}/webhooks`, { name: 'receiver', url: receiver.url, events: ['COURSE_ENROLLMENT'] });
    for (const round of [1, 2, 3]) {
      const event = { ...sampleEvent('COURSE_ENROLLMENT'), eventId: `wake-up-${round}` };
      await call('POST', `/v1/accounts/${account.id}/events`, { events: [event] });
      // Far below the poll interval: only the NOTIFY can have woken the worker.
      await receiver.waitFor(() => receiver.acknowledgedEvents().length === round, 10_000);
    }
    assert.deepEqual(receiver.acknowledgedEvents(), ['wake-up-1', 'wake-up-2', 'wake-up-3']);
  });
});
