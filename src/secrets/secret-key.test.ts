// The secret key: given as a setting or generated into a private key file; a malformed key or a wrong key is refused
// in plain words, and a sealed secret opens only with its key and on its webhook.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../config.ts';
import { SecretBox, SecretOpenError } from './secret-box.ts';
import { keyFileName, loadSecretKey } from './secret-key.ts';

const hexKey = 'a1'.repeat(32);

test('a malformed key is refused with a message that says how to make one', () => {
  for (const secretKey of ['short', 'g'.repeat(64), 'a1'.repeat(31), 'a1'.repeat(33), Buffer.alloc(16).toString('base64')]) {
    assert.throws(
      () => loadSecretKey({ secretKey, dataDir: '/nonexistent' }),
      (error: Error) => error instanceof ConfigError && /64 hex digits/.test(error.message) && /openssl rand -hex 32/.test(error.message),
      secretKey,
    );
  }
  assert.equal(loadSecretKey({ secretKey: hexKey, dataDir: '/nonexistent' }).key.length, 32);
  assert.equal(loadSecretKey({ secretKey: Buffer.alloc(32, 7).toString('base64'), dataDir: '/nonexistent' }).key.length, 32);
});

test('without a key setting, a private key file is generated under the data folder once and reused', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'learnhook-key-'));
  try {
    const first = loadSecretKey({ secretKey: '', dataDir });
    const file = path.join(dataDir, keyFileName);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600, 'readable by its owner only');
    assert.equal(first.source, file);
    assert.deepEqual(loadSecretKey({ secretKey: '', dataDir }).key, first.key, 'the next start reads the same key');
    fs.chmodSync(file, 0o644);
    assert.throws(() => loadSecretKey({ secretKey: '', dataDir }), /can be read by other users; make it private with: chmod 600/);
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a sealed secret opens with its key on its owner only; another key is refused in plain words', () => {
  const box = new SecretBox(loadSecretKey({ secretKey: hexKey, dataDir: '/nonexistent' }));
  const sealed = box.seal('hunter2', 'webhook:wh_a');
  assert.doesNotMatch(sealed, /hunter2/);
  assert.notEqual(box.seal('hunter2', 'webhook:wh_a'), sealed, 'a fresh nonce each time');
  assert.equal(box.open(sealed, 'webhook:wh_a'), 'hunter2');
  assert.throws(() => box.open(sealed, 'webhook:wh_b'), SecretOpenError);
  const other = new SecretBox(loadSecretKey({ secretKey: 'b2'.repeat(32), dataDir: '/nonexistent' }));
  assert.notEqual(other.fingerprint, box.fingerprint);
  assert.throws(() => other.open(sealed, 'webhook:wh_a'), /sealed with another key/);
});
