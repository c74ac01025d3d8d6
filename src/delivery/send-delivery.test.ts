// The sender against real loopback receivers: 2xx acknowledges, redirects are failures, and the SSRF guard refuses before connecting.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Answer, freePort, startReceiver } from '../../test/support/test-receiver.ts';
import { DeliverySender } from './send-delivery.ts';

const body = Buffer.from(JSON.stringify({ accountId: 1, events: [] }));
const settings = { connectTimeoutMs: 1000, socketTimeoutMs: 1000, concurrency: 2 };

test('only a 2xx acknowledges; a redirect is not followed and counts as a failure; 429 passes its retry-after on', async () => {
  const answers: Answer[] = [
    { status: 202 },
    { status: 302, headers: { location: 'http://127.0.0.1:9/elsewhere' } },
    { status: 429, headers: { 'retry-after': '7' } },
  ];
  const receiver = await startReceiver((_, index) => answers[index] ?? { status: 500 });
  const sender = new DeliverySender({ ...settings, allowPrivateTargets: true });
  try {
    const ok = await sender.send({ url: receiver.url, body, headers: {} });
    assert.deepEqual([ok.acknowledged, ok.statusCode, ok.cause], [true, 202, null]);
    const redirected = await sender.send({ url: receiver.url, body, headers: {} });
    assert.deepEqual([redirected.acknowledged, redirected.statusCode, redirected.cause], [false, 302, 'status']);
    assert.match(redirected.error ?? '', /redirects are not followed/);
    const limited = await sender.send({ url: receiver.url, body, headers: {} });
    assert.equal(limited.retryAfter, '7');
    assert.equal(receiver.deliveries.length, 3, 'the redirect target was never asked');
    assert.equal(receiver.deliveries[0]?.headers['content-type'], 'application/json');
  } finally {
    await sender.close();
    await receiver.close();
  }
});

test('without --allow-private-targets, loopback targets are refused before any connection, by IP or by name', async () => {
  const receiver = await startReceiver();
  const sender = new DeliverySender({ ...settings, allowPrivateTargets: false });
  try {
    for (const url of [receiver.url, `http://localhost:${receiver.port}/webhook`]) {
      const result = await sender.send({ url, body, headers: {} });
      assert.equal(result.acknowledged, false);
      assert.equal(result.cause, 'ssrf', `${url}: ${result.error}`);
    }
    assert.equal(receiver.deliveries.length, 0);
  } finally {
    await sender.close();
    await receiver.close();
  }
});

test('a refused connection is reported as such', async () => {
  const sender = new DeliverySender({ ...settings, allowPrivateTargets: true });
  try {
    const result = await sender.send({ url: `http://127.0.0.1:${await freePort()}/webhook`, body, headers: {} });
    assert.deepEqual([result.acknowledged, result.cause], [false, 'refused']);
  } finally {
    await sender.close();
  }
});

test('at delivery, a literal IPv6 target that embeds a private IPv4 address is refused before connecting', async () => {
  const receiver = await startReceiver();
  const sender = new DeliverySender({ ...settings, allowPrivateTargets: false });
  try {
    for (const host of ['[::7f00:1]', '[::ffff:0:7f00:1]', '[2002:7f00:1::1]', '[64:ff9b::7f00:1]', '[::ffff:7f00:1]']) {
      const result = await sender.send({ url: `http://${host}:${receiver.port}/webhook`, body, headers: {} });
      assert.equal(result.cause, 'ssrf', `${host}: ${result.error}`);
      assert.match(result.error ?? '', /private or reserved address/);
    }
    assert.equal(receiver.deliveries.length, 0);
  } finally {
    await sender.close();
    await receiver.close();
  }
});
