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
import { runCli } from './support/cli.ts';
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
        await assert.rejects(cli('show', created.id), /\(404 webhook wh_\S+ was not found\)/);
      } finally {
        await producer.stop();
        await receiver.close();
        await dropTestDatabase(db);
      }
    });
  });
}

describe('webhooks retry', { skip: sqlite[0]?.skip }, () => {
  test('retry now: a failing webhook waiting for a retry ten minutes away is attempted at once', async () => {
    let failing = true;
    const receiver = await startReceiver(() => ({ status: failing ? 500 : 202 }));
    const db = await sqlite[0]!.freshUrl();
    const settings = loadSettings(
      {
        db,
        port: 0,
        adminToken: 'cli-admin',
        allowPrivateTargets: true,
        logLevel: 'silent',
        pollIntervalMs: 100,
        retryInitialMs: 600_000,
        retryMaxMs: 600_000,
      },
      {},
    );
    const producer = await startProducer(settings, { dispatch: true });
    try {
      const account = await createAccount(producer.context, { name: 'retry' });
      const connection = ['--api', producer.url ?? '', '--token', 'cli-admin', '--account', String(account.id)];
      const created = await runCli(['webhooks', 'create', '--name', 'flaky', '--url', receiver.url, ...connection]);
      assert.equal(created.code, 0, created.stderr);
      const webhook = JSON.parse(created.stdout) as { id: string };
      assert.equal((await runCli(['trigger', 'CI_STATS', ...connection])).code, 0);
      await receiver.waitFor(() => receiver.deliveries.length === 1);
      const waiting = JSON.parse((await runCli(['webhooks', 'stats', webhook.id, ...connection])).stdout) as { nextAttemptAt: string };
      assert.ok(Date.parse(waiting.nextAttemptAt) > Date.now() + 60_000, 'the next attempt is minutes away');
      // The receiver is fixed; `retry` makes the waiting batch due now instead of in ten minutes.
      failing = false;
      const retried = await runCli(['webhooks', 'retry', webhook.id, ...connection]);
      assert.equal(retried.code, 0, retried.stderr);
      assert.equal(JSON.parse(retried.stdout).wasWaiting, true);
      await receiver.waitFor(() => receiver.deliveries.some((delivery) => delivery.acknowledged), 30_000);
      assert.equal(
        receiver.deliveries.at(-1)?.headers['webhook-id'],
        receiver.deliveries[0]?.headers['webhook-id'],
        'the same batch, retried',
      );
    } finally {
      await producer.stop();
      await receiver.close();
      await dropTestDatabase(db);
    }
  });
});
