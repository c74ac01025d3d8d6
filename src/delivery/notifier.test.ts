// Without --smtp-url the notifier writes each e-mail as an .eml file under <data-dir>/mail.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../context.ts';
import { disabledMail, Notifier } from './notifier.ts';

test('e-mails become .eml files when no SMTP server is set', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'learnhook-mail-'));
  const notifier = new Notifier({ smtpUrl: '', mailFrom: 'learnhook <noreply@example.test>', dataDir }, createLogger('silent'));
  try {
    const webhook = { id: 'wh_1', name: 'orders', url: 'https://example.test/hook', account_id: 7, failing_since: 0 };
    assert.equal(await notifier.send(disabledMail('ops@example.test', webhook, 'its target answered 410 Gone')), true);
    const files = fs.readdirSync(path.join(dataDir, 'mail'));
    assert.equal(files.length, 1);
    const raw = fs.readFileSync(path.join(dataDir, 'mail', files[0] ?? ''), 'utf8');
    assert.match(raw, /^To: ops@example\.test$/m);
    assert.match(raw, /^Subject: learnhook: webhook orders was disabled$/m);
  } finally {
    notifier.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
