// `npm start` in a fresh clone, as a new user runs it: it prints its URLs, the mirror's enrollments table fills within a
// minute, Ctrl-C stops it, and a second start resumes the same account and webhook instead of setting up again.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { type DemoProcess, spawnDemo } from './support/run-demo.ts';

const root = path.resolve(import.meta.dirname, '..');

async function until<T>(what: string, check: () => T | undefined | false, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Rows of the mirror's enrollments table, read as a user would with sqlite3 (read-only, beside the running mirror). */
function enrollmentRows(file: string): number {
  if (!fs.existsSync(file)) return 0;
  const database = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return (database.prepare('SELECT count(*) AS count FROM enrollments').get() as { count: number }).count;
  } catch {
    return 0; // Not migrated yet.
  } finally {
    database.close();
  }
}

describe('npm start in a fresh clone', () => {
  let folder: string;
  let clone: string;
  let demo: DemoProcess | undefined;

  before(() => {
    folder = fs.mkdtempSync(path.join(os.tmpdir(), 'learnhook-clone-'));
    clone = path.join(folder, 'learnhook');
    execFileSync('git', ['clone', '--quiet', root, clone]);
    // The dependencies of this checkout stand in for `npm ci` (minutes); whatever the project builds on install is built.
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(clone, 'node_modules'), 'dir');
    const scripts = (JSON.parse(fs.readFileSync(path.join(clone, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    if (scripts.build) execFileSync('npm', ['run', '--silent', 'build'], { cwd: clone, stdio: 'ignore' });
  });

  after(async () => {
    await demo?.stop();
    fs.rmSync(folder, { recursive: true, force: true });
  });

  test('prints its URLs and mirrors enrollments within 60 seconds; a second start resumes', async (t) => {
    // Any free ports: the defaults (8080, 8090) may be taken on a shared machine.
    demo = await spawnDemo('npm', ['start', '--', '--port=0', '--mirror-port=0'], { cwd: clone, timeoutMs: 60_000 });
    const started = Date.now();
    assert.match(demo.signInUrl, /^http:\/\/127\.0\.0\.1:\d+\/#code=[\w-]+$/);
    assert.match(demo.docsUrl, /\/docs$/);
    assert.match(demo.adminToken, /^lh_admin_/);
    assert.match(demo.output(), /look inside {2}sqlite3 \.learnhook\/mirror\.db "SELECT/);
    const mirrorDb = path.join(clone, demo.mirrorDb);
    const rows = await until('rows in the mirror’s enrollments table', () => enrollmentRows(mirrorDb) || false, 60_000);
    assert.ok(rows > 0);
    t.diagnostic(`${rows} enrollments mirrored ${Date.now() - started} ms after the URLs were printed`);
    assert.equal((await fetch(demo.signInUrl)).status, 200, 'the dashboard answers');
    assert.equal((await fetch(demo.docsUrl)).status, 200, 'the API docs answer');
    const first = { url: demo.apiUrl, token: demo.adminToken };
    const accounts = async (url: string, token: string) =>
      (
        (await (await fetch(`${url}/v1/accounts`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
          accounts: { id: number }[];
        }
      ).accounts;
    const [account] = await accounts(first.url, first.token);
    assert.match(await fs.promises.readFile(path.join(clone, '.learnhook/demo.json'), 'utf8'), /"webhookId"/);

    await demo.stop();
    assert.match(demo.output(), /shutting down/);
    assert.equal(fs.existsSync(path.join(clone, '.learnhook/demo.pid')), false, 'the demo released its data folder');

    demo = await spawnDemo('npm', ['start', '--', '--port=0', '--mirror-port=0'], { cwd: clone, timeoutMs: 60_000 });
    assert.match(demo.output(), /learnhook demo is running \(resumed\)/);
    assert.equal(demo.adminToken, first.token, 'the same admin token');
    const again = await accounts(demo.apiUrl, demo.adminToken);
    assert.deepEqual(
      again.map((each) => each.id),
      [account?.id],
      'no second account',
    );
    const webhooks = (await (
      await fetch(`${demo.apiUrl}/v1/accounts/${account?.id}/webhooks`, { headers: { authorization: `Bearer ${demo.adminToken}` } })
    ).json()) as { webhooks: { name: string; state: string }[] };
    assert.deepEqual(
      webhooks.webhooks.map((webhook) => [webhook.name, webhook.state]),
      [['Demo mirror', 'enabled']],
      'the same webhook, active again',
    );
    const before = enrollmentRows(mirrorDb);
    await until('the mirror to keep filling after the restart', () => enrollmentRows(mirrorDb) > before, 60_000);
  });
});
