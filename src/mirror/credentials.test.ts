// Secrets and basic-auth credentials bound to accounts: one tenant's secret cannot write another tenant's rows.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { Webhook } from 'standardwebhooks';
import { dropTestDatabase, testDialects } from '../../test/support/test-databases.ts';
import { sampleEvent } from '../catalog/index.ts';
import { ConfigError, loadSettings } from '../config.ts';
import { parseCredentials } from './credentials.ts';
import { type RunningMirror, startMirror } from './start-mirror.ts';

const [sqlite] = await testDialects();
const newSecret = () => `whsec_${randomBytes(24).toString('base64')}`;

function body(accountId: number, eventId: string): string {
  return JSON.stringify({ accountId, events: [{ ...sampleEvent('COURSE_ENROLLMENT'), eventId }] });
}

async function post(
  mirror: RunningMirror,
  payload: string,
  auth: { secret: string } | { basic: string },
): Promise<{ status: number; message?: string }> {
  const id = `msg_${randomBytes(8).toString('hex')}`;
  const signedAt = new Date(Math.floor(Date.now() / 1000) * 1000);
  const headers: Record<string, string> =
    'secret' in auth
      ? {
          'webhook-id': id,
          'webhook-timestamp': String(signedAt.getTime() / 1000),
          'webhook-signature': new Webhook(auth.secret).sign(id, signedAt, payload),
        }
      : { 'webhook-id': id, authorization: `Basic ${Buffer.from(auth.basic).toString('base64')}` };
  const response = await fetch(`${mirror.url}/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: payload,
  });
  const json = (await response.json()) as { error?: { message: string } };
  return { status: response.status, ...(json.error ? { message: json.error.message } : {}) };
}

describe('credentials bound to accounts', () => {
  test('--secret and --basic-auth entries are read with their accounts, and wrong ones are refused at start', () => {
    const [a, b] = [newSecret(), newSecret()];
    assert.deepEqual(parseCredentials(`1001=${a},1002=${b} ${a}`, ''), {
      secrets: [{ value: a, accountId: 1001 }, { value: b, accountId: 1002 }, { value: a }],
      basicAuth: [],
    });
    assert.deepEqual(parseCredentials('', 'mirror:pa ss,word').basicAuth, [{ value: 'mirror:pa ss,word' }]);
    assert.deepEqual(parseCredentials('', '1001=alice:one,1002=bob:t,wo').basicAuth, [
      { value: 'alice:one', accountId: 1001 },
      { value: 'bob:t,wo', accountId: 1002 },
    ]);
    assert.throws(() => parseCredentials('0=whsec_AAAA', ''), ConfigError);
    assert.throws(() => parseCredentials('1001=', ''), /account 1001 is given no credential/);
    assert.throws(() => parseCredentials('1001:whsec_AAAA', ''), /not a signing secret/);
    assert.throws(() => parseCredentials('', '1001=alice'), /USER:PASSWORD/);
  });

  describe('over HTTP', { skip: sqlite?.skip }, () => {
    const [a, b, shared] = [newSecret(), newSecret(), newSecret()];
    let mirror: RunningMirror;
    let url: string;
    const logLines: string[] = [];
    before(async () => {
      url = await (sqlite as NonNullable<typeof sqlite>).freshUrl();
      const logger = pino(
        { level: 'warn' },
        new Writable({
          write(chunk, _encoding, done) {
            logLines.push(String(chunk));
            done();
          },
        }),
      );
      mirror = await startMirror(
        loadSettings(
          { db: url, port: 0, mirrorSecret: `1001=${a},1002=${b} ${shared}`, mirrorBasicAuth: '1001=alice:one,1002=bob:t,wo' },
          {},
        ),
        { logger },
      );
    });
    after(async () => {
      await mirror?.stop();
      await dropTestDatabase(url);
    });
    const inboxCount = async () => (await mirror.context.database.db.selectFrom('inbox').select('id').execute()).length;

    test("a delivery verified by another account's secret or password is refused with 401 and stores nothing", async () => {
      assert.equal((await post(mirror, body(1001, 'k-1'), { secret: a })).status, 202);
      assert.equal((await post(mirror, body(1002, 'k-2'), { secret: b })).status, 202);
      assert.equal((await post(mirror, body(1001, 'k-3'), { basic: 'alice:one' })).status, 202);
      assert.equal((await post(mirror, body(1002, 'k-4'), { basic: 'bob:t,wo' })).status, 202);
      const stored = await inboxCount();
      const crossed = await post(mirror, body(1002, 'k-5'), { secret: a });
      assert.equal(crossed.status, 401);
      assert.match(crossed.message ?? '', /for account 1002, but its credentials are bound to account 1001/);
      assert.equal((await post(mirror, body(1001, 'k-6'), { basic: 'bob:t,wo' })).status, 401);
      assert.equal((await post(mirror, body(1003, 'k-7'), { secret: b })).status, 401);
      assert.equal(await inboxCount(), stored, 'nothing was stored');
    });

    test('a secret bound to no account writes any account, with a warning once a second account shows up', async () => {
      assert.equal((await post(mirror, body(2001, 'k-8'), { secret: shared })).status, 202);
      assert.equal(logLines.filter((line) => line.includes('bound to no account')).length, 0);
      assert.equal((await post(mirror, body(2002, 'k-9'), { secret: shared })).status, 202);
      assert.equal((await post(mirror, body(2003, 'k-10'), { secret: shared })).status, 202);
      const warnings = logLines.filter((line) => line.includes('bound to no account'));
      assert.equal(warnings.length, 1, 'warned once');
      assert.match(warnings[0] ?? '', /accounts 2001 and 2002/);
    });
  });
});
