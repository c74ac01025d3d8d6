// learnhook mirror rules through the real CLI: a bad file refused naming rule and field, a dry run over the inbox's
// last events (an ignored event fires nothing), an unreachable channel refused, list and remove, on both stores.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { sampleEvent } from '../src/catalog/index.ts';
import type { MirrorSchema } from '../src/mirror/schema.ts';
import { InboxWriter } from '../src/mirror/store-batch.ts';
import { openDatabase } from '../src/store/database.ts';
import { migrate } from '../src/store/migrate.ts';
import { dropTestDatabase, testDialects } from './support/test-databases.ts';
import { freePort } from './support/test-receiver.ts';

const dialects = await testDialects();
const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'learnhook-rules-'));

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const run = spawn(process.execPath, ['bin/learnhook.js', 'mirror', 'rules', ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    run.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
    });
    run.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    run.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

test('a bad rules file is refused with every problem, each naming the rule and the field', async () => {
  const file = path.join(folder, 'bad.yaml');
  fs.writeFileSync(
    file,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a rules file's ${VAR} placeholder
    'rules:\n  - name: typo\n    events: [CI_STATS]\n    condition: hasPassed == false\n    channel: {type: chat, url: "${NOT_SET_ANYWHERE}"}\n    template: "{{learner.name}}"\n',
  );
  const result = await cli(['check', file]);
  assert.equal(result.status, 2);
  assert.match(result.stderr, /^learnhook: .*bad\.yaml: 4 problems:\n/);
  assert.match(result.stderr, /rule "typo": channel\.url: the environment variable NOT_SET_ANYWHERE is not set/);
  assert.match(result.stderr, /rule "typo": condition: CI_STATS has no field "hasPassed"/);
  assert.match(result.stderr, /rule "typo": template: unknown variable \{\{learner\.name\}\}/);
});

for (const dialect of dialects) {
  describe(`learnhook mirror rules on ${dialect.name}`, { skip: dialect.skip }, () => {
    test('check shows which rules the last events would fire; add refuses a dead channel; list and remove', async () => {
      const db = await dialect.freshUrl();
      const database = await openDatabase<MirrorSchema>(db);
      try {
        await migrate(database as Parameters<typeof migrate>[0], 'mirror');
        const completed = sampleEvent('CERTIFICATION_COMPLETED');
        const unenrolled = sampleEvent('CERTIFICATION_UNENROLLMENT');
        const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();
        const events = [
          { ...completed, eventId: 'c-1', timestamp: at(0), data: { ...completed.data, hasPassed: false } },
          { ...unenrolled, eventId: 'c-2', timestamp: at(2000), data: { ...unenrolled.data, userId: 9 } },
          // Older than learner 9's unenrollment: the mirror ignores it, so no rule fires.
          { ...completed, eventId: 'c-3', timestamp: at(1000), data: { ...completed.data, userId: 9, hasPassed: false } },
        ];
        const inbox = new InboxWriter(database);
        for (const event of events) {
          const body = JSON.stringify({ accountId: 4, events: [event] });
          await inbox.write({ accountId: 4, eventCount: 1, body, replay: false, test: false }, Date.now());
        }
      } finally {
        await database.close();
      }
      const port = await freePort();
      const dead = path.join(folder, 'dead.yaml');
      fs.writeFileSync(
        dead,
        `- name: dead-chat\n  events: [CI_STATS]\n  channel: {type: chat, url: "http://127.0.0.1:${port}/hook"}\n  template: "{{instance.id}}"\n`,
      );
      const env = { TEAM_CHAT_WEBHOOK_URL: 'http://127.0.0.1:9/hook' };
      const [checked, refused, listed] = await Promise.all([
        cli(['check', 'docs/examples/notification-rules.yaml', '--last', '3', '--db', db], env),
        cli(['add', dead, '--db', db]),
        cli(['list', '--db', db]),
      ]);
      assert.equal(checked.status, 0, checked.stderr);
      const lines = checked.stdout.split('\n');
      assert.equal(lines[0], 'docs/examples/notification-rules.yaml: 4 rules, valid');
      assert.match(lines[2] ?? '', /CERTIFICATION_COMPLETED\s+c-1 {2}→ failed-certification$/);
      assert.match(lines[3] ?? '', /CERTIFICATION_UNENROLLMENT\s+c-2 {2}→ -$/);
      assert.match(lines[4] ?? '', /CERTIFICATION_COMPLETED\s+c-3 {2}→ nobody \(ignored by the mirror: rule 3: older than/);
      assert.match(checked.stdout, /would fire:\n {2}failed-certification: 1\n {2}seats-free-again: 0\n/);

      assert.equal(refused.status, 2);
      assert.match(refused.stderr, /rule "dead-chat": channel\.url: cannot reach 127\.0\.0\.1:\d+: ECONNREFUSED/);
      assert.match(refused.stderr, /nothing was changed; --no-channel-check stores the rules anyway/);
      assert.equal(listed.stdout, 'no rules; add some with: learnhook mirror rules load rules.yaml\n');

      // Adding and removing touch the store like the /rules API does (tested on both stores); once through the CLI is enough.
      if (dialect.name !== 'sqlite') {
        await dropTestDatabase(db);
        return;
      }
      const added = await cli(['add', dead, '--no-channel-check', '--db', db]);
      assert.equal(added.status, 0, added.stderr);
      assert.match(added.stdout, /^rules: 1 added \(dead-chat\), 0 updated, 0 unchanged in /);
      const [removed, missing] = [await cli(['remove', 'dead-chat', '--db', db]), await cli(['remove', 'dead-chat', '--db', db])];
      assert.equal(removed.stdout, 'removed dead-chat\n');
      assert.equal(missing.status, 2);
      assert.match(missing.stderr, /no rule named "dead-chat"/);
      await dropTestDatabase(db);
    });
  });
}
