// The SSRF guard: which addresses are refused, and that a refused target never gets a connection.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkTarget, isPrivateAddress, TargetRefusedError } from './target-guard.ts';

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
  await assert.rejects(checkTarget('http://127.0.0.1:9/hook', false), /loopback, private or link-local/);
  await assert.rejects(checkTarget('http://localhost:9/hook', false), /loopback, private or link-local/);
  await assert.rejects(checkTarget('http://[::1]:9/hook', false), TargetRefusedError);
  await assert.rejects(checkTarget('http://169.254.169.254/latest/meta-data', false), TargetRefusedError);
  assert.equal((await checkTarget('http://127.0.0.1:9/hook', true)).toString(), 'http://127.0.0.1:9/hook');
});
