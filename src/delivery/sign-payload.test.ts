// Signatures interoperate with the standardwebhooks package, also with two secrets while a rotation overlaps.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { newSigningSecret, signPayload } from './sign-payload.ts';

test('a signature made here verifies with the standardwebhooks package', () => {
  const secret = newSigningSecret();
  assert.match(secret, /^whsec_[A-Za-z0-9+/]+=*$/);
  const body = JSON.stringify({ accountId: 7, events: [] });
  const timestamp = Math.floor(Date.now() / 1000);
  const headers = {
    'webhook-id': 'msg_abc',
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signPayload([secret], 'msg_abc', timestamp, body),
  };
  assert.deepEqual(new Webhook(secret).verify(body, headers), { accountId: 7, events: [] });
  assert.throws(() => new Webhook(secret).verify(`${body} `, headers), 'a changed body fails');
  assert.throws(() => new Webhook(newSigningSecret()).verify(body, headers), 'another secret fails');
});

test('during a rotation both the new and the old secret verify the same delivery', () => {
  const [fresh, old] = [newSigningSecret(), newSigningSecret()];
  const body = '{"accountId":1,"events":[]}';
  const timestamp = Math.floor(Date.now() / 1000);
  const signature = signPayload([fresh, old], 'msg_x', timestamp, body);
  assert.equal(signature.split(' ').length, 2);
  const headers = { 'webhook-id': 'msg_x', 'webhook-timestamp': String(timestamp), 'webhook-signature': signature };
  for (const secret of [fresh, old]) assert.ok(new Webhook(secret).verify(body, headers));
});
