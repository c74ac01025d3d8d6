// `learnhook webhooks …` against a running producer through the real CLI. Each command is a process start (seconds on a
// busy machine), so this runs on SQLite only: the CLI only speaks HTTP, and the API behind it is tested on both stores.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadSettings } from '../src/config.ts';
import { createAccount } from '../src/platform/accounts.ts';
import { startProducer } from '../src/server.ts';
import { dropTestDatabase, testDialects } from './support/test-databases.ts';
import { startReceiver } from './support/test-receiver.ts';

const sqlite = (await testDialects()).filter((dialect) => dialect.name === 'sqlite');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);

for (const dialect of sqlite) {
  describe(`webhooks CLI on ${dialect.name}`, { skip: dialect.skip }, () => {
    test('create, test, delete and show a webhook', async () => {
      const receiver = await startReceiver();
      const db = await dialect.freshUrl();
      const settings = loadSettings(
        { db, port: 0, adminToken: 'cli-admin', allowPrivateTargets: true, logLevel: 'silent', pollIntervalMs: 100 },
        {},
      );
      const producer = await startProducer(settings, { dispatch: true });
      try {
        const account = await createAccount(producer.context, { name: 'cli' });
        const cli = async (...args: string[]) => {
          const { stdout } = await run(process.execPath, [
            path.join(root, 'bin/learnhook.js'),
            'webhooks',
            ...args,
            '--api',
            producer.url ?? '',
            '--token',
            account.token,
            '--account',
            String(account.id),
          ]);
          return JSON.parse(stdout);
        };
        const created = await cli('create', '--name', 'from-cli', '--url', receiver.url, '--events', 'COURSE_ENROLLMENT,CI_STATS');
        assert.match(created.secret, /^whsec_/);
        assert.deepEqual(created.events, ['COURSE_ENROLLMENT', 'CI_STATS']);
        const sent = await cli('test', created.id);
        assert.equal(sent.acknowledged, true);
        assert.equal(receiver.deliveries[0]?.body.events[0]?.eventName, 'COURSE_ENROLLMENT');
        assert.deepEqual(await cli('delete', created.id), { deleted: created.id });
        await assert.rejects(cli('show', created.id), /answered 404/);
      } finally {
        await producer.stop();
        await receiver.close();
        await dropTestDatabase(db);
      }
    });
  });
}
