// The SSRF guard: which addresses are refused, and that a refused target never gets a connection.
import assert from 'node:assert/strict';
import type dns from 'node:dns';
import type { LookupAddress } from 'node:dns';
import { test } from 'node:test';
import { checkTarget, guardedLookup, isPrivateAddress, TargetRefusedError } from './target-guard.ts';

test('loopback, private, link-local, metadata and unspecified addresses are private; public ones are not', () => {
  for (const address of [
    '127.0.0.1',
    '10.1.2.3',
    '172.16.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '0.0.0.0',
    '100.64.0.1',
    '::1',
    '::',
    'fe80::1',
    'fd00:ec2::254',
    '::ffff:127.0.0.1',
  ]) {
    assert.equal(isPrivateAddress(address), true, address);
  }
  for (const address of ['93.184.216.34', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8'])
    assert.equal(isPrivateAddress(address), false, address);
});

test('registration refuses non-http URLs, credentials in URLs and private targets unless allowed', async () => {
  await assert.rejects(checkTarget('ftp://example.test/x', false), TargetRefusedError);
  await assert.rejects(checkTarget('http://user:pw@127.0.0.1/x', true), TargetRefusedError);
  await assert.rejects(checkTarget('http://127.0.0.1:9/hook', false), /private or reserved address/);
  await assert.rejects(checkTarget('http://localhost:9/hook', false), /private or reserved address/);
  await assert.rejects(checkTarget('http://[::1]:9/hook', false), TargetRefusedError);
  await assert.rejects(checkTarget('http://169.254.169.254/latest/meta-data', false), TargetRefusedError);
  assert.equal((await checkTarget('http://127.0.0.1:9/hook', true)).toString(), 'http://127.0.0.1:9/hook');
});

/** IPv6 forms that carry an IPv4 address inside: each names a private IPv4 address, so each is refused. */
const disguisedPrivate = [
  '::7f00:1', // IPv4-compatible ::127.0.0.1
  '::127.0.0.1',
  '::a9fe:a9fe', // IPv4-compatible ::169.254.169.254
  '::ffff:0:7f00:1', // SIIT ::ffff:0:127.0.0.1
  '::ffff:0:a00:1', // SIIT ::ffff:0:10.0.0.1
  '::ffff:7f00:1', // IPv4-mapped, written in hex
  '2002:7f00:1::1', // 6to4 of 127.0.0.1
  '2002:a9fe:a9fe::', // 6to4 of 169.254.169.254
  '2001:0:4136:e378:8000:63bf:80ff:fffe', // Teredo whose client is 127.0.0.1 (stored inverted)
  '2001:0:7f00:1::1', // Teredo whose server is 127.0.0.1
  '64:ff9b::7f00:1', // NAT64 of 127.0.0.1
  '64:ff9b::a9fe:a9fe', // NAT64 of 169.254.169.254
  '64:ff9b:1::8.8.8.8', // local-use NAT64 (RFC 8215): a local network, refused whatever it embeds
  '2001:db8::1', // documentation
  '100::1', // discard-only
];

test('IPv6 addresses that embed a private IPv4 address are private; the same forms of a public one are not', () => {
  for (const address of disguisedPrivate) assert.equal(isPrivateAddress(address), true, address);
  for (const address of ['::808:808', '2002:808:808::1', '64:ff9b::808:808', '::ffff:0:808:808', '2001:0:4136:e378:8000:63bf:f7f7:f7f7'])
    assert.equal(isPrivateAddress(address), false, address);
});

test('registration refuses every disguised private address, and the refusal does not say what a host resolves to', async () => {
  for (const address of disguisedPrivate) {
    const error = await checkTarget(`http://[${address}]:9/hook`, false).then(
      () => assert.fail(`${address} was accepted`),
      (refusal: Error) => refusal,
    );
    assert.ok(error instanceof TargetRefusedError, address);
    assert.match(error.message, /private or reserved address/);
  }
  const named = await checkTarget('http://localhost:9/hook', false).catch((error: Error) => error);
  assert.ok(named instanceof TargetRefusedError);
  assert.doesNotMatch(named.message, /127\.0\.0\.1|::1/, 'the resolved address stays unsaid');
});

test('at connect time, a name that resolves to a disguised private address gets no connection and no address in the error', async () => {
  for (const address of disguisedPrivate) {
    const resolve = ((_host: string, _options: unknown, callback: (error: null, addresses: LookupAddress[]) => void) =>
      callback(null, [{ address, family: 6 }])) as unknown as typeof dns.lookup;
    const outcome = await new Promise<{ error: Error | null; address: unknown }>((done) =>
      guardedLookup(false, resolve)('hooks.example.test', { all: false }, (error, resolved) => done({ error, address: resolved })),
    );
    assert.ok(outcome.error instanceof TargetRefusedError, `${address} was handed to the socket`);
    assert.doesNotMatch(outcome.error.message, new RegExp(address.replaceAll('.', '\\.')));
    assert.match(outcome.error.message, /hooks\.example\.test resolves to a private or reserved address/);
  }
});
