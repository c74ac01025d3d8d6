// The mirror's page and its read endpoints on both stores: accounts with their last applied event, enrollments with
// learner and course names, anomalies by kind with examples, and set-aside rows put back from the page.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadSettings } from '../src/config.ts';
import { type RunningMirror, startMirror } from '../src/mirror/start-mirror.ts';
import { createAccount } from '../src/platform/accounts.ts';
import { dropTestDatabase, testDialects } from './support/test-databases.ts';
import { startTestProducer, type TestProducer } from './support/test-producer.ts';

const dialects = await testDialects();

async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

for (const dialect of dialects) {
  describe(`the mirror's page on ${dialect.name}`, { skip: dialect.skip }, () => {
    let producer: TestProducer;
    let mirror: RunningMirror;
    let mirrorDb: string;
    let accountId: number;
    let webhookPath: string;
    const get = async <T>(path: string): Promise<T> => (await (await fetch(`${mirror.url}${path}`)).json()) as T;
    const platform = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      const response = await producer.app.inject({
        method: method as 'POST',
        url: path,
        headers: { authorization: `Bearer ${producer.adminToken}` },
        ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
      });
      assert.ok(response.statusCode < 300, `${method} ${path} answered ${response.statusCode}: ${response.body}`);
      return response.json() as T;
    };

    before(async () => {
      producer = await startTestProducer(dialect, { pollIntervalMs: 100, progressDelay: { minMs: 0, maxMs: 0 } });
      const api = await producer.app.listen({ port: 0, host: '127.0.0.1' });
      const account = await createAccount(producer.context, { name: 'Mirror page academy', contactEmail: null });
      accountId = account.id;
      const { token } = account;
      mirrorDb = await dialect.freshUrl();
      // The webhook waits paused until the mirror runs with its secret.
      const placeholder = await producer.createWebhook(accountId, {
        name: 'mirror',
        url: 'http://127.0.0.1:9/webhook',
        events: ['COURSE_ENROLLMENT', 'LEARNING_OBJECT_DRAFT', 'LEARNING_OBJECT_MODIFICATION', 'LEARNING_OBJECT_INSTANCE_MODIFICATION'],
        active: false,
      });
      mirror = await startMirror(
        loadSettings(
          {
            db: mirrorDb,
            port: 0,
            logLevel: 'silent',
            mirrorSecret: placeholder.secret ?? '',
            api,
            apiToken: token,
            projectionAttempts: 2,
          },
          {},
        ),
      );
      webhookPath = `/v1/accounts/${accountId}/webhooks/${placeholder.id}`;
      await platform('PATCH', webhookPath, { url: `${mirror.url}/webhook`, active: true });
    });

    after(async () => {
      await mirror?.stop();
      await producer?.stop();
      if (mirrorDb) await dropTestDatabase(mirrorDb);
    });

    test('the page is served, and accounts and enrollments show with learner and course names', async () => {
      const page = await fetch(`${mirror.url}/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<script type="module" src="\/assets\/mirror.js">/);

      const base = `/v1/accounts/${accountId}`;
      const user = await platform<{ id: number }>('POST', `${base}/users`, { name: 'Ada Lovelace', email: 'ada@example.com' });
      const course = await platform<{ id: string }>('POST', `${base}/learning-objects`, { loType: 'course', name: 'Analytical engines' });
      await platform('POST', `${base}/learning-objects/${course.id}/publish`);
      const instance = await platform<{ id: string }>('POST', `${base}/learning-objects/${course.id}/instances`, { name: 'Spring run' });
      await platform('POST', `${base}/enrollments`, { userId: user.id, loInstanceId: instance.id, actor: 'learner' });

      type Enrollments = {
        enrollments: { userId: number; learner: string | null; learningObject: string | null; instance: string | null; status: string }[];
      };
      const enrolled = await until('the enrollment, enriched with names', async () => {
        const { enrollments } = await get<Enrollments>(`/api/enrollments?account=${accountId}`);
        return enrollments.find((row) => row.userId === user.id && row.learner && row.learningObject);
      });
      assert.equal(enrolled.learner, 'Ada Lovelace');
      assert.equal(enrolled.learningObject, 'Analytical engines');
      assert.equal(enrolled.instance, 'Spring run');
      assert.equal(enrolled.status, 'ENROLLED');

      type Accounts = {
        accounts: {
          accountId: number;
          lastApplied: { eventName: string } | null;
          pendingBatches: number;
          lagMs: number;
          enrollments: number;
        }[];
      };
      const { accounts } = await get<Accounts>('/api/accounts');
      const mine = accounts.find((account) => account.accountId === accountId);
      assert.equal(mine?.lastApplied?.eventName, 'COURSE_ENROLLMENT');
      assert.equal(mine?.enrollments, 1);
      assert.equal(mine?.pendingBatches, 0);
      assert.equal(mine?.lagMs, 0, 'nothing pending, no lag');
      assert.equal((await fetch(`${mirror.url}/api/enrollments?limit=x`)).status, 400);
    });

    test('anomalies show by kind with examples', async () => {
      // A replay sends events the mirror has applied: each comes back as a duplicate.
      await platform('POST', `${webhookPath}/replay`, { since: new Date(0).toISOString() });
      type Anomalies = { kinds: { kind: string; count: number; examples: { eventName: string | null; detail: string }[] }[] };
      const duplicates = await until('duplicate_event anomalies', async () =>
        (await get<Anomalies>('/api/anomalies?examples=2')).kinds.find((kind) => kind.kind === 'duplicate_event' && kind.count >= 2),
      );
      assert.equal(duplicates.examples.length, 2, 'as many examples as asked');
      assert.ok(duplicates.examples.every((example) => example.detail.length > 0));
    });

    test('set-aside rows are listed and put back in line from the page; the retry needs a JSON body', async () => {
      const [row] = await mirror.context.database.db
        .insertInto('inbox')
        .values({
          batch_id: 'poison',
          account_id: accountId,
          seq_first: null,
          seq_last: null,
          replay: 0,
          test: 0,
          event_count: 1,
          body: '{"not":"an envelope"',
          received_at: Date.now(),
          processed_at: null,
          attempts: 2,
          last_error: 'SyntaxError: Unexpected end of JSON input',
          failed_at: Date.now(),
        })
        .returning('id')
        .execute();
      type SetAside = { rows: { inboxId: number; attempts: number; lastError: string }[] };
      const listed = (await get<SetAside>('/api/set-aside')).rows.find((each) => each.inboxId === row?.id);
      assert.equal(listed?.lastError, 'SyntaxError: Unexpected end of JSON input');

      const form = await fetch(`${mirror.url}/api/set-aside/retry`, { method: 'POST', body: 'ids=1' });
      assert.equal(form.status, 415, 'a cross-site form cannot press the button');
      const wrong = await fetch(`${mirror.url}/api/set-aside/retry`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ids: ['one'] }),
      });
      assert.equal(wrong.status, 400);
      const retried = await fetch(`${mirror.url}/api/set-aside/retry`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ids: [row?.id] }),
      });
      assert.deepEqual(await retried.json(), { retried: 1, heldEvents: 0 });
      // Put back, it is tried again (and, still unreadable, set aside again after --projection-attempts failures).
      await until('the row tried again', async () => {
        const again = await mirror.context.database.db
          .selectFrom('inbox')
          .select(['attempts', 'failed_at'])
          .where('id', '=', row?.id ?? 0)
          .executeTakeFirst();
        return again && again.attempts > 0 && again.failed_at !== null;
      });
    });
  });
}
