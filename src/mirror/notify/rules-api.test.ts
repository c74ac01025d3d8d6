// The mirror's /rules API and page on both stores: bad rules refused naming rule and field (nothing stored), the token,
// send test through real SMTP and chat receivers, a dead channel in /status and /metrics, the dry run, remove and replace.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import { dropTestDatabase, testDialects } from '../../../test/support/test-databases.ts';
import { freePort, type Receiver, startReceiver } from '../../../test/support/test-receiver.ts';
import { startSmtpServer, type TestSmtpServer } from '../../../test/support/test-smtp-server.ts';
import { sampleEvent } from '../../catalog/index.ts';
import { loadSettings } from '../../config.ts';
import type { MirrorStatus } from '../read-status.ts';
import { type RunningMirror, startMirror } from '../start-mirror.ts';
import type { CheckReport } from './check-rules.ts';
import { parseRulesFile } from './rules.ts';

const dialects = await testDialects();
const token = 'rules-token-for-tests';
const rulesFile = fs.readFileSync(new URL('../../../docs/examples/notification-rules.yaml', import.meta.url), 'utf8');

for (const dialect of dialects) {
  describe(`the /rules API on ${dialect.name}`, { skip: dialect.skip }, () => {
    let mirror: RunningMirror;
    let url: string;
    let smtp: TestSmtpServer;
    let chat: Receiver;
    let chatStatus = 200;

    const call = async (method: string, path: string, body?: string, headers: Record<string, string> = {}) => {
      const response = await fetch(`${mirror.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/yaml', ...headers },
        ...(body === undefined ? {} : { body }),
      });
      const text = await response.text();
      // biome-ignore lint/suspicious/noExplicitAny: the tests read answers of several shapes
      return { status: response.status, text, json: (text.startsWith('{') ? JSON.parse(text) : undefined) as Record<string, any> };
    };
    const names = async () =>
      (await call('GET', '/rules')).json.rules.map((rule: { definition: { name: string } }) => rule.definition.name);

    before(async () => {
      smtp = await startSmtpServer();
      chat = await startReceiver(() => ({ status: chatStatus }));
      url = await dialect.freshUrl();
      mirror = await startMirror(loadSettings({ db: url, port: 0, logLevel: 'silent', smtpUrl: smtp.url, rulesToken: token }, {}));
    });
    after(async () => {
      await mirror.stop();
      await chat.close();
      await smtp.close();
      await dropTestDatabase(url);
    });

    test('bad rules are refused with the rule and the field named, and nothing is stored', async () => {
      const bad =
        'rules:\n  - name: typo\n    events: [COURSE_COMPLETE]\n    channel: {type: email, to: [team@example.com]}\n    template: "{{learner.phone}}"\n';
      const refused = await call('POST', '/rules', bad);
      assert.equal(refused.status, 400);
      assert.equal(refused.json.error.code, 'invalid_rules');
      assert.deepEqual(refused.json.error.details, ['rule "typo": events: "COURSE_COMPLETE" is not an event of the catalog']);
      const dead = await freePort();
      const unreachable = await call(
        'POST',
        '/rules',
        JSON.stringify({
          name: 'dead',
          events: ['CI_STATS'],
          channel: { type: 'chat', url: `http://127.0.0.1:${dead}/hook` },
          template: '{{instance.id}}',
        }),
      );
      assert.equal(unreachable.status, 400);
      assert.equal(unreachable.json.error.code, 'unreachable_channel');
      assert.match(unreachable.json.error.message, /^rule "dead": channel\.url: cannot reach 127\.0\.0\.1:\d+: ECONNREFUSED/);
      assert.equal((await call('POST', '/rules', 'name: [', {})).status, 400);
      assert.deepEqual(await names(), []);
    });

    test('changes need the rules token', async () => {
      const response = await call('DELETE', '/rules/anything', undefined, { authorization: 'Bearer wrong' });
      assert.equal(response.status, 401);
      assert.match(response.json.error.message, /--rules-token/);
    });

    test('the docs rules are added, listed, and served as a page to a browser', async () => {
      const rules = parseRulesFile(rulesFile, { TEAM_CHAT_WEBHOOK_URL: chat.url });
      const added = await call('POST', '/rules', JSON.stringify({ rules }), { 'content-type': 'application/json' });
      assert.equal(added.status, 200, added.text);
      assert.deepEqual(added.json.added, ['failed-certification', 'seats-free-again', 'daily-completions', 'bulk-enrollments']);
      assert.deepEqual(await names(), ['bulk-enrollments', 'daily-completions', 'failed-certification', 'seats-free-again']);
      const page = await call('GET', '/rules', undefined, { accept: 'text/html,application/xhtml+xml' });
      assert.match(page.text, /<title>learnhook mirror · notification rules<\/title>/);
      const one = await call('GET', '/rules/failed-certification');
      assert.equal(one.json.rule.definition.condition, 'hasPassed == false');
      assert.equal((await call('GET', '/rules/nope')).status, 404);
    });

    test('send test: through SMTP to the fixed recipients; a failing chat shows in /status and /metrics', async () => {
      const sent = await call('POST', '/rules/failed-certification/test');
      assert.equal(sent.status, 200, sent.text);
      await smtp.waitFor(() => smtp.mails.length === 1);
      assert.deepEqual(smtp.mails[0]?.to, ['training-team@example.com']);
      assert.match(smtp.mails[0]?.subject ?? '', /^\[test\] user 123456728 did not pass certification:123418$/);
      chatStatus = 503;
      const failed = await call('POST', '/rules/seats-free-again/test');
      assert.equal(failed.status, 502);
      assert.match(failed.json.error.message, /the chat webhook answered 503/);
      const status = (await call('GET', '/status')).json as MirrorStatus;
      assert.deepEqual(
        status.notifications.channels.map((channel) => [channel.channel.split(' ')[0], channel.state]),
        [
          ['chat', 'failing'],
          ['email', 'ok'],
        ],
        JSON.stringify(status.notifications.channels),
      );
      assert.match((await call('GET', '/metrics')).text, /learnhook_mirror_notify_channel_failing\{channel="chat [^"]+"\} 1/);
      chatStatus = 200;
      assert.equal((await call('POST', '/rules/seats-free-again/test')).status, 200);
      assert.equal(((await call('GET', '/status')).json as MirrorStatus).notifications.channels[0]?.state, 'ok');
    });

    test('the page lists the rules and sends a test from the keyboard', async () => {
      const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
      try {
        const page = await browser.newPage();
        page.on('dialog', (dialog) => dialog.accept(token));
        await page.goto(`${mirror.url}/rules`);
        await page.getByRole('button', { name: 'Send test' }).first().waitFor();
        assert.deepEqual(
          await page.locator('#rules th[scope=row]').evaluateAll((cells) => cells.map((cell) => cell.firstChild?.textContent)),
          ['bulk-enrollments', 'daily-completions', 'failed-certification', 'seats-free-again'],
        );
        // Tab to the third rule's button and press Enter.
        const before = smtp.mails.length;
        await page.locator('button[data-rule="failed-certification"]').focus();
        await page.keyboard.press('Enter');
        await page.getByRole('status').filter({ hasText: 'Test of failed-certification sent' }).waitFor();
        assert.equal(smtp.mails.length, before + 1);
        // The table is rebuilt after a test; the keyboard stays on the button it pressed.
        await page.waitForFunction(() => document.activeElement?.getAttribute('data-rule') === 'failed-certification', undefined, {
          timeout: 10_000,
        });
        assert.match(
          await page.locator('button[data-rule="failed-certification"]').evaluate((button) => button.closest('tr')?.textContent ?? ''),
          /training-team@example\.com/,
        );
      } finally {
        await browser.close();
      }
    });

    test('check: a dry run over the last events in the inbox, sending nothing', async () => {
      const failed = sampleEvent('CERTIFICATION_COMPLETED');
      const events = [
        { ...failed, eventId: 'chk-1', data: { ...failed.data, hasPassed: false } },
        { ...failed, eventId: 'chk-2', data: { ...failed.data, userId: 5, hasPassed: true } },
      ];
      const delivered = await call('POST', '/webhook', JSON.stringify({ accountId: 3, events }), { 'content-type': 'application/json' });
      assert.equal(delivered.status, 202);
      const mailsBefore = smtp.mails.length;
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the rules file's placeholder, filled as the CLI would
      const checked = await call('POST', '/rules/check?last=2', rulesFile.replaceAll('${TEAM_CHAT_WEBHOOK_URL}', chat.url));
      assert.equal(checked.status, 200, checked.text);
      const report = checked.json as CheckReport;
      assert.deepEqual(
        report.events.map((event) => [event.eventId, event.fired.map((fired) => fired.rule)]),
        [
          ['chk-1', ['failed-certification']],
          ['chk-2', []],
        ],
      );
      assert.equal(report.counts['failed-certification'], 1);
      assert.equal(smtp.mails.length, mailsBefore, 'the dry run sends nothing');
    });

    test('remove and replace: the file becomes the whole set', async () => {
      assert.equal((await call('DELETE', '/rules/bulk-enrollments')).status, 200);
      assert.equal((await call('DELETE', '/rules/bulk-enrollments')).status, 404);
      const one = parseRulesFile(rulesFile, { TEAM_CHAT_WEBHOOK_URL: chat.url }).filter((rule) => rule.name === 'daily-completions');
      const replaced = await call('PUT', '/rules', JSON.stringify(one), { 'content-type': 'application/json' });
      assert.deepEqual(replaced.json, {
        added: [],
        updated: [],
        unchanged: ['daily-completions'],
        removed: ['failed-certification', 'seats-free-again'],
      });
      assert.deepEqual(await names(), ['daily-completions']);
    });
  });
}
