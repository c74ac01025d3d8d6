// From outside: `learnhook serve` refuses settings out of range or contradicting each other before it starts anything.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

const root = path.resolve(import.meta.dirname, '..');

function serve(args: string[], env: Record<string, string> = {}) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'learnhook-settings-'));
  try {
    return spawnSync(process.execPath, [path.join(root, 'bin/learnhook.js'), 'serve', '--data-dir', dataDir, '--port', '0', ...args], {
      cwd: root,
      env: { ...process.env, ...env },
      encoding: 'utf8',
      timeout: 60_000,
    });
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

test('serve --batch-max 0 and an empty LEARNHOOK_ALLOW_PRIVATE_TARGETS are refused at start, naming the value given', () => {
  const zero = serve(['--batch-max', '0']);
  assert.equal(zero.status, 2, zero.stderr);
  assert.match(zero.stderr, /--batch-max must be a whole number from 1 to 10000\. Got '0'\./);

  const empty = serve([], { LEARNHOOK_ALLOW_PRIVATE_TARGETS: '' });
  assert.equal(empty.status, 2, empty.stderr);
  assert.match(empty.stderr, /LEARNHOOK_ALLOW_PRIVATE_TARGETS must be true, false, 1 or 0\. Got ''\./);
});
