// `learnhook listen` as a user runs it: a webhook created with `webhooks create --listen`, the printed listen line
// started as its own process, a real signed delivery printed and forwarded, and a forged one flagged and refused.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { loadSettings } from '../src/config.ts';
import { createAccount } from '../src/platform/accounts.ts';
import { startProducer } from '../src/server.ts';
import { type RunningCli, runCli, startCli } from './support/cli.ts';
import { dropTestDatabase, testDialects } from './support/test-databases.ts';
import { freePort, startReceiver } from './support/test-receiver.ts';

const sqlite = (await testDialects()).find((dialect) => dialect.name === 'sqlite')!;
const running: RunningCli[] = [];
after(async () => {
  for (const process of running) await process.stop();
});

test('listen prints a signed delivery, forwards it unchanged, and flags a forged one with 401', async () => {
  const db = await sqlite.freshUrl();
  const settings = loadSettings(
    { db, port: 0, adminToken: 'listen-admin', allowPrivateTargets: true, logLevel: 'silent', pollIntervalMs: 100 },
    {},
  );
  const producer = await startProducer(settings, { dispatch: true });
  const app = await startReceiver();
  try {
    const account = await createAccount(producer.context, { name: 'listen' });
    const connection = ['--api', `${producer.url}/v1`, '--token', 'listen-admin', '--account', String(account.id)];
    const port = await freePort();

    // One command points a webhook at the listener and prints the command that receives it, secret included.
    const created = await runCli(['webhooks', 'create', '--name', 'dev', '--listen', String(port), ...connection]);
    assert.equal(created.code, 0, created.stderr);
    const webhook = JSON.parse(created.stdout) as { url: string; events: string[]; secret: string };
    assert.equal(webhook.url, `http://127.0.0.1:${port}/`);
    assert.equal(webhook.events.length, 27, 'a webhook created without --events receives every event');
    const line = /learnhook listen (--port \d+ --secret (whsec_\S+))/.exec(created.stderr);
    assert.ok(line?.[1], `create prints the listen command:\n${created.stderr}`);
    assert.equal(line[2], webhook.secret);

    const listen = startCli(['listen', ...line[1].split(' '), '--forward', app.url]);
    running.push(listen);
    await listen.waitFor(/receiving at http:\/\/127\.0\.0\.1:\d+/);

    // A real delivery: signed by the dispatcher, printed with its batch id, sequence range and the event's key fields.
    const triggered = await runCli(['trigger', 'COURSE_ENROLLMENT', ...connection]);
    assert.equal(triggered.code, 0, triggered.stderr);
    const printed = await listen.waitFor(
      /batch (\S+) · account (\d+) · sequence 1-1 · 1 event · signature ok\n\s+COURSE_ENROLLMENT\s+userId=\d+ loId=course:\S+ loInstanceId=\S+/,
    );
    assert.equal(printed[2], String(account.id));
    await listen.waitFor(/forwarded to \S+: 202, relayed/);
    await app.waitFor(() => app.deliveries.length === 1);
    const forwarded = app.deliveries[0]!;
    assert.equal(forwarded.url, new URL(app.url).pathname);
    assert.equal(forwarded.headers['webhook-id'], printed[1]);
    // The same bytes and headers: the forwarded delivery still verifies with the webhook's secret.
    assert.doesNotThrow(() => new Webhook(webhook.secret).verify(forwarded.raw, forwarded.headers as Record<string, string>));

    // A forged delivery: well-formed, signed with another secret. Flagged in plain words, answered 401, not forwarded.
    const forgedBody = JSON.stringify({
      accountId: account.id,
      events: [{ eventId: 'forged-1', eventName: 'COURSE_COMPLETED', timestamp: new Date().toISOString(), eventInfo: 'x', data: {} }],
    });
    const forger = new Webhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    const when = new Date();
    const answer = await fetch(`http://127.0.0.1:${port}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': 'msg_forged',
        'webhook-timestamp': String(Math.floor(when.getTime() / 1000)),
        'webhook-signature': forger.sign('msg_forged', when, forgedBody),
      },
      body: forgedBody,
    });
    assert.equal(answer.status, 401);
    await listen.waitFor(/batch msg_forged · account \d+ · no sequence · 1 event · SIGNATURE DOES NOT HOLD: no signature matches/);
    await listen.waitFor(/answered 401: not forwarded/);
    assert.equal(app.deliveries.length, 1, 'the forged delivery was not forwarded');
  } finally {
    await producer.stop();
    await app.close();
    await dropTestDatabase(db);
  }
});
