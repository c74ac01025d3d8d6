// What the database holds of credentials, on both stores: token hashes, sealed passwords and signing secrets, never
// plaintext; and they still work: tokens authenticate, deliveries carry the right basic auth and signature.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { type DialectUnderTest, dropTestDatabase, testDialects } from '../../test/support/test-databases.ts';
import { testSecretKey } from '../../test/support/test-platform.ts';
import { startTestProducer, type TestProducer } from '../../test/support/test-producer.ts';
import { type Receiver, startReceiver } from '../../test/support/test-receiver.ts';
import { buildApp } from '../api/app.ts';
import { ConfigError, loadSettings } from '../config.ts';
import { createProducerContext } from '../context.ts';
import { type Database, openDatabase } from '../store/database.ts';
import { listMigrations, migrate } from '../store/migrate.ts';
import type { ProducerSchema } from '../store/schema.ts';
import { prepareSecrets } from './prepare-secrets.ts';

const dialects = await testDialects();

for (const dialect of dialects) {
  describe(`stored credentials on ${dialect.name}`, { skip: dialect.skip }, () => {
    let producer: TestProducer;
    let receiver: Receiver;
    before(async () => {
      producer = await startTestProducer(dialect);
      receiver = await startReceiver();
    });
    after(async () => {
      await producer?.stop();
      await receiver?.close();
    });

    const call = (method: 'GET' | 'POST', url: string, token: string, body?: unknown) =>
      producer.app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
      });

    /** Every row of the tables that hold credentials, as text, to search for a plaintext value. */
    async function storedText(): Promise<string> {
      const db = producer.context.database.db;
      return JSON.stringify([await db.selectFrom('accounts').selectAll().execute(), await db.selectFrom('webhooks').selectAll().execute()]);
    }

    test('an account token is stored as a hash, shown once, and still authenticates', async () => {
      const created = await call('POST', '/v1/accounts', producer.adminToken, { name: 'Hashed' });
      assert.equal(created.statusCode, 201, created.body);
      const { id, token } = created.json() as { id: number; token: string };
      assert.match(token, /^lh_acct_/);
      assert.ok(!(await storedText()).includes(token), 'the database holds no plaintext token');
      assert.equal((await call('GET', `/v1/accounts/${id}`, token)).statusCode, 200);
      assert.equal((await call('GET', `/v1/accounts/${id}`, `${token}x`)).statusCode, 401);
    });

    test('a basic-auth password and a signing secret are stored sealed; deliveries still carry them', async () => {
      const accountId = await producer.createAccount('Sealed');
      const password = 'correct horse battery staple';
      const basic = await producer.createWebhook(accountId, {
        name: 'basic',
        url: receiver.url,
        events: ['LEARNING_OBJECT_DRAFT'],
        auth: { type: 'basic', username: 'mirror', password },
      });
      const signed = await producer.createWebhook(accountId, { name: 'signed', url: receiver.url, events: ['LEARNING_OBJECT_DRAFT'] });
      assert.match(signed.secret ?? '', /^whsec_/);
      const rotated = (await call('POST', `/v1/accounts/${accountId}/webhooks/${signed.id}/rotate-secret`, producer.adminToken)).json();
      const stored = await storedText();
      for (const plaintext of [password, signed.secret ?? '', rotated.secret, (signed.secret ?? '').slice('whsec_'.length)])
        assert.ok(!stored.includes(plaintext), 'the database holds no plaintext password or secret');

      await producer.append(accountId, 1);
      await receiver.waitFor(() => receiver.deliveries.length >= 2);
      const byAuth = receiver.deliveries.filter((delivery) => delivery.headers.authorization !== undefined);
      assert.equal(byAuth.length, 1);
      assert.equal(byAuth[0]?.headers.authorization, `Basic ${Buffer.from(`mirror:${password}`).toString('base64')}`);
      const bySignature = receiver.deliveries.find((delivery) => delivery.headers['webhook-signature'] !== undefined);
      assert.ok(bySignature);
      const headers = {
        'webhook-id': String(bySignature.headers['webhook-id']),
        'webhook-timestamp': String(bySignature.headers['webhook-timestamp']),
        'webhook-signature': String(bySignature.headers['webhook-signature']),
      };
      // Signed with the new secret and, during the overlap, the old one: both verify.
      for (const secret of [rotated.secret, signed.secret ?? '']) new StandardWebhook(secret).verify(bySignature.raw, headers);
      assert.equal(basic.secret, undefined);
    });
  });
}

/** A database as the version before sealed credentials left it: migrations up to 0003, plaintext token and secrets. */
async function databaseOfTheOldVersion(dialect: DialectUnderTest, receiverUrl: string) {
  const url = await dialect.freshUrl();
  const database = await openDatabase<ProducerSchema>(url);
  await database.executeScript('CREATE TABLE learnhook_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)');
  for (const migration of listMigrations('producer', dialect.name).filter((each) => each.name < '0004')) {
    await database.executeScript(migration.script);
    await sql`INSERT INTO learnhook_migrations (name, applied_at) VALUES (${migration.name}, ${Date.now()})`.execute(database.db);
  }
  const now = Date.now();
  await sql`INSERT INTO accounts (id, name, status, token, created_at, updated_at)
            VALUES (1001, 'Old', 'ACTIVE', ${oldToken}, ${now}, ${now})`.execute(database.db);
  for (const [id, authType, password, secret, previous] of [
    ['wh_basic', 'basic', oldPassword, null, null],
    ['wh_signed', 'signature', null, oldSecret, oldPreviousSecret],
  ] as const) {
    await sql`INSERT INTO webhooks (id, account_id, name, url, events, auth_type, basic_username, basic_password, secret,
                previous_secret, previous_secret_until, state, created_at, updated_at)
              VALUES (${id}, 1001, ${id}, ${receiverUrl}, '["CI_STATS"]', ${authType}, ${password === null ? null : 'mirror'},
                ${password}, ${secret}, ${previous}, ${previous === null ? null : now + 3_600_000}, 'enabled', ${now}, ${now})`.execute(
      database.db,
    );
  }
  return { url, database };
}

const oldToken = 'lh_acct_oldplaintexttokenoftheoldversion';
const oldPassword = 'old plaintext password';
const oldSecret = 'whsec_b2xkIHBsYWludGV4dCBzaWduaW5nIHNlY3JldCE=';
const oldPreviousSecret = 'whsec_cHJldmlvdXMgcGxhaW50ZXh0IHNlY3JldCEhIQ==';

for (const dialect of dialects) {
  describe(`upgrading stored credentials on ${dialect.name}`, { skip: dialect.skip }, () => {
    test('the migration hashes tokens and the next start seals passwords and secrets; all of them still work', async () => {
      const receiver = await startReceiver();
      const { url, database } = await databaseOfTheOldVersion(dialect, receiver.url);
      try {
        // 0004 is the first to apply; the migrations added after it follow.
        assert.deepEqual((await migrate(database as Database<unknown>, 'producer'))[0], '0004-sealed-credentials');
        const settings = loadSettings({ logLevel: 'silent', adminToken: 'admin', allowPrivateTargets: true, secretKey: testSecretKey }, {});
        const context = createProducerContext(settings, database);
        await prepareSecrets(context);
        const stored = JSON.stringify([
          await database.db.selectFrom('accounts').selectAll().execute(),
          await database.db.selectFrom('webhooks').selectAll().execute(),
        ]);
        for (const plaintext of [oldToken, oldPassword, oldSecret, oldPreviousSecret]) assert.ok(!stored.includes(plaintext), plaintext);
        await prepareSecrets(context); // a second start changes nothing: rows are sealed once
        const app = await buildApp(context);
        try {
          const asAccount = { authorization: `Bearer ${oldToken}` };
          assert.equal((await app.inject({ url: '/v1/accounts/1001', headers: asAccount })).statusCode, 200, 'the old token still works');
          for (const id of ['wh_basic', 'wh_signed']) {
            const tested = await app.inject({ method: 'POST', url: `/v1/accounts/1001/webhooks/${id}/test`, headers: asAccount });
            assert.equal(tested.statusCode, 200, tested.body);
          }
          const [basic, signed] = receiver.deliveries;
          assert.equal(basic?.headers.authorization, `Basic ${Buffer.from(`mirror:${oldPassword}`).toString('base64')}`);
          assert.ok(signed);
          const headers = {
            'webhook-id': String(signed.headers['webhook-id']),
            'webhook-timestamp': String(signed.headers['webhook-timestamp']),
            'webhook-signature': String(signed.headers['webhook-signature']),
          };
          for (const secret of [oldSecret, oldPreviousSecret]) new StandardWebhook(secret).verify(signed.raw, headers);
        } finally {
          await app.close();
        }

        const otherKey = loadSettings({ ...settings, secretKey: 'ff'.repeat(32) }, {});
        await assert.rejects(
          prepareSecrets(createProducerContext(otherKey, database)),
          (error: Error) =>
            error instanceof ConfigError && /not the key this database's webhook secrets are sealed with/.test(error.message),
        );
      } finally {
        await database.close();
        await dropTestDatabase(url);
        await receiver.close();
      }
    });
  });
}
