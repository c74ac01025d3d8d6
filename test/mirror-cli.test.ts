// A real `learnhook mirror` process as a new user runs it: its own port variable, refused deliveries logged with
// their reason, applied batches logged, a warning (and /status entry) when the webhook lacks events its tables
// need, a lag of 0 once nothing is pending however old the events were, and the producer's attempts log keeping the
// mirror's answer to a wrongly signed delivery.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Webhook } from 'standardwebhooks';
import { sampleEvent } from '../src/catalog/index.ts';
import { loadSettings } from '../src/config.ts';
import type { MirrorStatus } from '../src/mirror/read-status.ts';
import { createAccount } from '../src/platform/accounts.ts';
import { startProducer } from '../src/server.ts';
import { type RunningCli, startCli } from './support/cli.ts';
import { dropTestDatabase, testDialects } from './support/test-databases.ts';

const sqlite = (await testDialects()).find((dialect) => dialect.name === 'sqlite')!;

const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'learnhook-mirror-cli-'));
const running: RunningCli[] = [];
after(async () => {
  for (const process of running) await process.stop();
  fs.rmSync(folder, { recursive: true, force: true });
});

function signedPost(url: string, secret: string, id: string, body: string, headers: Record<string, string> = {}) {
  const when = new Date();
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(when.getTime() / 1000)),
      'webhook-signature': new Webhook(secret).sign(id, when, body),
      ...headers,
    },
    body,
  });
}

test('the mirror logs refusals and flow, warns about a partial subscription, and reports no lag when nothing is pending', async () => {
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  // LEARNHOOK_PORT belongs to serve: the mirror must not try port 1 from it.
  const env = { ...process.env, LEARNHOOK_PORT: '1', LEARNHOOK_MIRROR_PORT: '0' };
  const mirror = startCli(['mirror', '--db', `sqlite:${path.join(folder, 'mirror.db')}`, '--secret', secret, '--log-summary-every', '1s'], {
    env,
  });
  running.push(mirror);
  const base = (await mirror.waitFor(/webhook\s+(http:\/\/127\.0\.0\.1:\d+)\/webhook/))[1]!;

  const event = { ...sampleEvent('COURSE_ENROLLMENT'), eventId: 'old-1', timestamp: '2020-01-01T00:00:00.000Z' };
  const body = JSON.stringify({ accountId: 7, events: [event] });
  const forged = await signedPost(`${base}/webhook`, `whsec_${randomBytes(24).toString('base64')}`, 'msg_forged', body);
  assert.equal(forged.status, 401);
  await mirror.waitFor(/refused a delivery \(401 unauthorized\): the delivery is not authentic: no signature matches/);

  const accepted = await signedPost(`${base}/webhook`, secret, 'msg_1', body, {
    'learnhook-sequence': '1-1',
    'learnhook-events': 'COURSE_ENROLLMENT,CI_STATS',
  });
  assert.equal(accepted.status, 202);
  await mirror.waitFor(/not subscribed to every event its tables depend on.*enrollments misses [^;]*COURSE_COMPLETED_BATCH/);
  await mirror.waitFor(/applied a batch of account 7: 1 event applied, 0 duplicates/);

  let status: MirrorStatus | undefined;
  for (let attempt = 0; attempt < 300; attempt++) {
    status = (await (await fetch(`${base}/status`)).json()) as MirrorStatus;
    if (status.counts.applied === 1 && status.inbox.backlog === 0) break;
    await sleep(100);
  }
  assert.equal(status?.counts.applied, 1);
  // The event is six years old, but nothing waits: the mirror is not behind.
  assert.equal(status?.lagMs, 0);
  assert.match(await (await fetch(`${base}/metrics`)).text(), /^learnhook_mirror_lag_seconds 0$/m);
  assert.equal(status?.incompleteSubscriptions[0]?.accountId, 7);
  assert.ok(status?.incompleteSubscriptions[0]?.missing.learning_objects?.includes('LEARNING_OBJECT_MODIFICATION'));
});

test("a mirror with the wrong secret: the producer's attempts log keeps the mirror's answer, which says why", async () => {
  const db = await sqlite.freshUrl();
  const producer = await startProducer(
    loadSettings({ db, port: 0, adminToken: 'wrong-secret-admin', allowPrivateTargets: true, logLevel: 'silent', pollIntervalMs: 100 }, {}),
    { dispatch: true },
  );
  try {
    const mirror = startCli([
      'mirror',
      ...['--db', `sqlite:${path.join(folder, 'wrong-secret.db')}`, '--port', '0', '--log-level', 'warn'],
      ...['--secret', `whsec_${randomBytes(24).toString('base64')}`],
    ]);
    running.push(mirror);
    const base = (await mirror.waitFor(/webhook\s+(http:\/\/127\.0\.0\.1:\d+)\/webhook/))[1]!;
    const account = await createAccount(producer.context, { name: 'wrong secret' });
    const api = `${producer.url}/v1/accounts/${account.id}`;
    const headers = { authorization: 'Bearer wrong-secret-admin', 'content-type': 'application/json' };
    const webhook = (await (
      await fetch(`${api}/webhooks`, { method: 'POST', headers, body: JSON.stringify({ name: 'mirror', url: `${base}/webhook` }) })
    ).json()) as { id: string };
    const event = { ...sampleEvent('CI_STATS'), eventId: randomUUID(), timestamp: new Date().toISOString() };
    assert.equal((await fetch(`${api}/events`, { method: 'POST', headers, body: JSON.stringify({ events: [event] }) })).status, 200);
    await mirror.waitFor(/refused a delivery \(401 unauthorized\)/);
    let refused: { statusCode: number; responseBody: string | null } | undefined;
    for (let attempt = 0; attempt < 300 && !refused; attempt++) {
      const page = (await (await fetch(`${api}/webhooks/${webhook.id}/deliveries`, { headers })).json()) as {
        deliveries: { statusCode: number; responseBody: string | null }[];
      };
      refused = page.deliveries.find((delivery) => delivery.statusCode === 401);
      if (!refused) await sleep(100);
    }
    assert.match(
      refused?.responseBody ?? '',
      /the delivery is not authentic: no signature matches a configured secret; is --secret the webhook's secret\?/,
    );
  } finally {
    await producer.stop();
    await dropTestDatabase(db);
  }
});
