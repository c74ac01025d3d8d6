// The dashboard and the mirror's page in a real browser (Debian's chromium through playwright-core) against a running
// `learnhook demo`: sign-in link, webhook list, create through the form, pause and resume with the backlog in order,
// a failed attempt with its request and response, retry now, replay, and an anomaly on the mirror's page.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { runningInCi } from '../src/config.ts';
import { type DemoProcess, spawnDemo } from './support/run-demo.ts';
import { type Receiver, startReceiver } from './support/test-receiver.ts';

const chromiumPath = '/usr/bin/chromium';
const haveChromium = fs.existsSync(chromiumPath);
if (!haveChromium && runningInCi()) throw new Error(`${chromiumPath} is missing: CI installs it (apt-get install chromium)`);
// Screenshots go to the docs when asked (LEARNHOOK_SCREENSHOTS=docs/screenshots), to a temporary folder otherwise.
const shotsDir = process.env.LEARNHOOK_SCREENSHOTS ? path.resolve(process.env.LEARNHOOK_SCREENSHOTS) : undefined;
const root = path.resolve(import.meta.dirname, '..');

/** Polls a condition until it holds; the deadline is generous because the machine may be busy. */
async function until<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('dashboard and mirror page in a browser, against learnhook demo', { skip: !haveChromium && 'no /usr/bin/chromium' }, () => {
  let dataDir: string;
  let demo: DemoProcess;
  let browser: Browser;
  let page: Page;
  let receiver: Receiver;
  let failing: Receiver;
  let accountId: number;
  let createdId: string;
  const tmpShots = fs.mkdtempSync(path.join(os.tmpdir(), 'learnhook-shots-'));

  const api = async <T>(method: string, url: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${demo.apiUrl}${url}`, {
      method,
      headers: { authorization: `Bearer ${demo.adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${url} answered ${response.status}: ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
  const shot = async (name: string, height = 760) => {
    // A notice left by an earlier step belongs to that step, not to the picture.
    await page.evaluate(() => document.getElementById('notice')?.replaceChildren());
    await page.setViewportSize({ width: 1200, height });
    await page.screenshot({ path: path.join(shotsDir ?? tmpShots, name) });
    await page.setViewportSize({ width: 1200, height: 760 });
  };

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'learnhook-demo-'));
    receiver = await startReceiver();
    failing = await startReceiver(() => ({
      status: 500,
      headers: { 'content-type': 'application/json' },
      body: '{"error":"the receiver fell over: database locked"}',
    }));
    demo = await spawnDemo(
      process.execPath,
      [
        path.join(root, 'bin/learnhook.js'),
        'demo',
        '--port=0',
        '--mirror-port=0',
        `--data-dir=${dataDir}`,
        // The test's receivers listen on loopback, which user webhooks may reach only when allowed.
        '--allow-private-targets',
        '--rate=4/s',
        '--poll-interval=100ms',
        // Long enough that the second attempt of the failing webhook comes from "Retry now", not from the schedule.
        '--retry-initial=5m',
        '--retry-max=10m',
        '--progress-delay=0s..1s',
      ],
      { cwd: dataDir },
    );
    accountId = (await api<{ accounts: { id: number }[] }>('GET', '/v1/accounts')).accounts[0]?.id ?? 0;
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
    page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
  });

  after(async () => {
    await browser?.close();
    const code = await demo?.stop();
    await receiver?.close();
    await failing?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(tmpShots, { recursive: true, force: true });
    assert.equal(code, 0, `the demo should stop cleanly on Ctrl-C:\n${demo?.output()}`);
  });

  test('the one-time link signs in, and the dashboard lists the demo account’s webhook', async () => {
    await page.goto(demo.signInUrl);
    const row = page.locator('tr[data-webhook]', { hasText: 'Demo mirror' });
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /enabled/);
    assert.equal(new URL(page.url()).hash, `#/a/${accountId}/webhooks`, 'the code leaves the address bar once used');
    // The code is used up: a second use is refused in plain words.
    const again = await fetch(`${demo.apiUrl}/v1/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: new URL(demo.signInUrl).hash.slice('#code='.length) }),
    });
    assert.equal(again.status, 401);
  });

  test('a webhook created through the form, pointing at a local receiver, receives events', async () => {
    await page.getByRole('link', { name: 'New webhook' }).click();
    await page.getByLabel('Name').fill('Local receiver');
    await page.getByLabel('Target URL').fill(receiver.url);
    assert.equal(await page.getByLabel('All events').isChecked(), true, 'every event is chosen by default');
    await page.getByRole('button', { name: 'Create webhook' }).click();
    const secret = (await page.locator('[data-secret]').textContent()) ?? '';
    assert.match(secret, /^whsec_/, 'the signing secret is shown once after creation');
    createdId = await until('the webhook page', () => /webhooks\/(wh_[\w-]+)$/.exec(new URL(page.url()).hash)?.[1]);
    await receiver.waitFor(() => receiver.deliveries.some((delivery) => delivery.body.events.length > 0), 30_000);
    assert.ok(receiver.deliveries[0]?.headers['webhook-signature'], 'deliveries are signed');
  });

  test('deactivating stops deliveries; activating again delivers the backlog in order', async () => {
    await page.getByRole('button', { name: 'Deactivate' }).click();
    await page.locator('h1 + .badge', { hasText: 'paused' }).waitFor();
    type Stats = { backlog: number; cursor: number; accountHead: number };
    const stats = () => api<Stats>('GET', `/v1/accounts/${accountId}/webhooks/${createdId}/stats`);
    // A request already in flight when it was paused may still land: count from once the backlog grows.
    await until('a backlog', async () => (await stats()).backlog >= 3);
    const received = receiver.deliveries.length;
    const cursor = (await stats()).cursor;
    await until('a larger backlog', async () => (await stats()).backlog >= 8);
    assert.equal(receiver.deliveries.length, received, 'nothing is delivered while the webhook is paused');
    assert.equal((await stats()).cursor, cursor);

    await page.getByRole('button', { name: 'Activate' }).click();
    await until('the backlog to be delivered', async () => {
      const now = await stats();
      return now.backlog === 0 && now.cursor > cursor;
    });
    // In order: the events acknowledged follow the account's log, each once, with nothing skipped from the cursor on.
    const log = await api<{ events: { seq: number; eventId: string }[] }>(
      'GET',
      `/v1/accounts/${accountId}/events?after=${cursor}&limit=1000`,
    );
    // At least once: a batch re-sent after a slow answer repeats events; each counts where it first arrived.
    const delivered = [...new Set(receiver.acknowledgedEvents())]
      .map((eventId) => log.events.find((event) => event.eventId === eventId)?.seq)
      .filter((seq): seq is number => seq !== undefined);
    const head = (await stats()).cursor;
    assert.deepEqual(
      delivered,
      log.events.filter((event) => event.seq <= head).map((event) => event.seq),
      'the backlog arrives in the log’s order, nothing skipped',
    );
  });

  test('the deliveries view shows a failed attempt from a receiver that answers 500, with its request and response; retry now tries again', async () => {
    const webhook = await api<{ id: string }>('POST', `/v1/accounts/${accountId}/webhooks`, {
      name: 'Flaky receiver',
      url: failing.url,
      events: ['COURSE_ENROLLMENT', 'COURSE_ENROLLMENT_BATCH', 'LEARNER_PROGRESS', 'CI_STATS'],
    });
    await failing.waitFor(() => failing.deliveries.length >= 1, 30_000);
    await page.goto(`${demo.apiUrl}/#/a/${accountId}/webhooks/${webhook.id}`);
    const failed = page.locator('tr[data-outcome="failed"]').first();
    await failed.waitFor();
    assert.match((await failed.textContent()) ?? '', /500/);
    await failed.locator('summary').click();
    const requestHeaders = (await failed.locator('[data-part="request-headers"]').textContent()) ?? '';
    assert.match(requestHeaders, /webhook-signature: v1,/);
    assert.match(requestHeaders, /learnhook-sequence: \d+-\d+/);
    const requestBody = JSON.parse((await failed.locator('[data-part="request-body"]').textContent()) ?? '') as { accountId: number };
    assert.equal(requestBody.accountId, accountId);
    assert.equal(
      JSON.stringify(JSON.parse(failing.deliveries[0]?.raw ?? '{}')),
      JSON.stringify(requestBody),
      'the request shown is the one the receiver got',
    );
    assert.match((await failed.locator('[data-part="response-body"]').textContent()) ?? '', /the receiver fell over: database locked/);
    await shot('dashboard-deliveries.png', 1250);

    // The next scheduled attempt is minutes away: a second one now can only come from the button.
    assert.equal(failing.deliveries.length, 1);
    await page.getByRole('button', { name: 'Retry now' }).click();
    await failing.waitFor(() => failing.deliveries.length >= 2, 30_000);
    assert.equal(failing.deliveries[1]?.headers['webhook-id'], failing.deliveries[0]?.headers['webhook-id'], 'the same batch, sent again');
  });

  test('the webhooks list shows each state, and replay re-delivers', async () => {
    await page.goto(`${demo.apiUrl}/#/a/${accountId}/webhooks`);
    await page.reload();
    await page.locator('tr[data-webhook]', { hasText: 'Flaky receiver' }).getByText('failing').waitFor();
    await shot('dashboard-webhooks.png');

    await page.goto(`${demo.apiUrl}/#/a/${accountId}/webhooks/${createdId}`);
    const before = receiver.deliveries.length;
    await page.getByRole('button', { name: 'Replay' }).click();
    await page.getByText(/Replaying events \d+ to \d+/).waitFor();
    await receiver.waitFor(
      () => receiver.deliveries.slice(before).some((delivery) => delivery.headers['learnhook-replay'] === 'true'),
      30_000,
    );
    const replayed = receiver.deliveries.slice(before).filter((delivery) => delivery.headers['learnhook-replay'] === 'true');
    const first = receiver.deliveries.find((delivery) => delivery.body.events.length > 0);
    assert.ok(
      replayed.some((delivery) => delivery.body.events.some((event) => event.eventId === first?.body.events[0]?.eventId)),
      'an event delivered before comes again, flagged as a replay',
    );
  });

  test('the event log tails live and filters by event name; the catalog lists every event', async () => {
    await page.goto(`${demo.apiUrl}/#/a/${accountId}/events`);
    await page.locator('#events tbody tr').first().waitFor();
    const newest = Number(await page.locator('#events tbody tr').first().getAttribute('data-seq'));
    // Live: a newer event shows up at the top without reloading.
    await until(
      'a newer event at the top',
      async () => Number(await page.locator('#events tbody tr').first().getAttribute('data-seq')) > newest,
    );
    await shot('dashboard-events.png');
    await page.getByLabel('Show').selectOption('LEARNER_PROGRESS');
    await until('progress events only', async () => {
      const names = await page.locator('#events tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-event')));
      return names.length > 0 && names.every((name) => name === 'LEARNER_PROGRESS');
    });
    await page.goto(`${demo.apiUrl}/#/catalog`);
    await page.locator('#catalog tbody tr').first().waitFor();
    assert.equal(await page.locator('#catalog tbody tr').count(), 27);
  });

  test('the mirror page shows the accounts, the enrollments with names, and an anomaly with examples', async () => {
    // Replaying the demo's own mirror webhook sends it events it has applied: each is a duplicate_event anomaly.
    const mirrorHook = (await api<{ webhooks: { id: string; name: string }[] }>('GET', `/v1/accounts/${accountId}/webhooks`)).webhooks.find(
      (webhook) => webhook.name === 'Demo mirror',
    );
    await api('POST', `/v1/accounts/${accountId}/webhooks/${mirrorHook?.id}/replay`, { since: new Date(0).toISOString() });
    await page.goto(`${demo.mirrorUrl}/`);
    await page.locator(`#accounts-table tr[data-account="${accountId}"]`).waitFor();
    const duplicates = page.locator('details[data-kind="duplicate_event"]');
    await duplicates.waitFor({ timeout: 30_000 });
    await duplicates.locator('summary').click();
    assert.ok((await duplicates.locator('tbody tr').count()) > 0, 'examples of the anomaly are listed');
    await until(
      'enrollments with learner names',
      async () => (await page.locator('#enrollments-table tbody tr', { hasText: 'Learner' }).count()) > 0,
    );
    await shot('mirror.png');
  });

  test('an account token sees only its own account, and API errors read in plain words', async () => {
    const { accountToken } = JSON.parse(fs.readFileSync(path.join(dataDir, 'demo.json'), 'utf8')) as { accountToken: string };
    const other = await api<{ id: number }>('POST', '/v1/accounts', { name: 'Another academy' });
    const link = await fetch(`${demo.apiUrl}/v1/sign-in-links`, { method: 'POST', headers: { authorization: `Bearer ${accountToken}` } });
    const { path: signIn } = (await link.json()) as { path: string };
    const context = await browser.newContext();
    try {
      const tab = await context.newPage();
      await tab.goto(`${demo.apiUrl}${signIn}`);
      await tab.locator('tr[data-webhook]').first().waitFor();
      assert.equal(await tab.locator('#who select').count(), 0, 'no account to choose from');
      assert.match((await tab.locator('#who').textContent()) ?? '', /account token/);
      await tab.goto(`${demo.apiUrl}/#/a/${other.id}/webhooks`);
      await tab.getByText(`Account ${other.id} does not exist or this token may not see it.`).waitFor();
      // A refused action says why, in the API’s words.
      await tab.goto(`${demo.apiUrl}/#/a/${accountId}/webhooks/new`);
      await tab.getByLabel('Name').fill('Nowhere');
      await tab.getByLabel('Target URL').fill('ftp://example.com/hook');
      await tab.getByRole('button', { name: 'Create webhook' }).click();
      await tab.locator('#problem', { hasText: 'The URL must start with http:// or https://' }).waitFor();
    } finally {
      await context.close();
    }
  });
});
