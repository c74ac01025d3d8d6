// For tests (one file per store, each with its own time budget): end to end, the rules file docs/notifications.md shows, loaded with the real CLI into a real `learnhook mirror` process,
// a real SMTP server and chat receiver; a burst with duplicated and out-of-order deliveries and a kill -9 mid-burst.
// Each rule fires exactly once per matching event, a bulk enrollment is one message, ignored events send nothing.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Webhook } from 'standardwebhooks';
import { sampleEvent } from '../../src/catalog/index.ts';
import type { MirrorStatus } from '../../src/mirror/read-status.ts';
import type { MirrorSchema } from '../../src/mirror/schema.ts';
import { openDatabase } from '../../src/store/database.ts';
import { migrate } from '../../src/store/migrate.ts';
import { dropTestDatabase, testDialects } from './test-databases.ts';
import { freePort, startReceiver } from './test-receiver.ts';
import { startSmtpServer } from './test-smtp-server.ts';

const secret = `whsec_${randomBytes(24).toString('base64')}`;
const accountId = 31;
const rulesFile = 'docs/examples/notification-rules.yaml';
const t0 = Date.UTC(2026, 4, 4, 8, 0, 0);

let counter = 0;
function event(name: string, at: number, data: Record<string, unknown>) {
  const sample = sampleEvent(name);
  return { ...sample, eventId: `e2e-${++counter}`, timestamp: new Date(at).toISOString(), data: { ...sample.data, ...data } };
}
type Event = ReturnType<typeof event>;

const certification = { loId: 'certification:77', loInstanceId: 'certification:77_1', loType: 'certification' };
const course = (n: number) => ({ loId: `course:${n}`, loInstanceId: `course:${n}_1`, loType: 'course' });
const instance = (n: number) => `course:${n}_1`;

/**
 * The burst, in the order it is sent. Returns the batches and what each rule must send. Out of order on purpose:
 * certification results newest first, a completion before its enrollment, CI_STATS older than the counts shown.
 */
function workload() {
  const batches: Event[][] = [];
  const failedLearners = Array.from({ length: 20 }, (_, index) => 101 + index);
  // Certification results, ten a batch, in reverse time order; ten of them passed.
  const results = [
    ...failedLearners.map((userId) => ({ userId, hasPassed: false })),
    ...[121, 122, 123, 124, 125].map((userId) => ({ userId, hasPassed: true })),
  ];
  const certEvents = results.map(({ userId, hasPassed }, index) =>
    event(index % 2 ? 'CERTIFICATION_COMPLETED' : 'CERTIFICATION_COMPLETED_BATCH', t0 + 1000 * (30 - index), {
      ...certification,
      userId,
      hasPassed,
      enrollmentSource: index % 2 ? 'SELF_ENROLL' : 'ADMIN_ENROLL',
    }),
  );
  for (let index = 0; index < certEvents.length; index += 5) batches.push(certEvents.slice(index, index + 5));
  // Learner 130 unenrolled, then an older failed result arrives: rule 3 ignores it, so nobody is told.
  batches.push([event('CERTIFICATION_UNENROLLMENT', t0 + 60_000, { ...certification, userId: 130 })]);
  batches.push([event('CERTIFICATION_COMPLETED', t0 + 10_000, { ...certification, userId: 130, hasPassed: false })]);
  // Five course instances with a waitlist: full, then a seat frees (fires), then a stale "full" older than both (not applied).
  for (let n = 1; n <= 5; n++) {
    const stats = (at: number, enrollmentCount: number) =>
      event('CI_STATS', at, { loInstanceId: instance(n), seatLimit: 10, enrollmentCount, waitlistCount: 4 });
    batches.push([stats(t0 + 100_000 + n, 10)]);
    batches.push([stats(t0 + 200_000 + n, 9), stats(t0 + 50_000 + n, 10)]);
  }
  // Completions of two courses for the daily digest; one arrives before its enrollment.
  const completions: Array<[number, number]> = [
    [201, 1],
    [202, 1],
    [203, 1],
    [204, 2],
    [205, 2],
  ];
  for (const [userId, n] of completions) {
    batches.push([event('COURSE_COMPLETED', t0 + 300_000 + userId, { ...course(n), userId, hasPassed: true })]);
  }
  batches.push([event('COURSE_ENROLLMENT', t0 + 250_000, { ...course(1), userId: 201 })]);
  // An administrator enrolls 500 learners in course 3: five batches of 100.
  for (let batch = 0; batch < 5; batch++) {
    batches.push(
      Array.from({ length: 100 }, (_, index) =>
        event('COURSE_ENROLLMENT_BATCH', t0 + 400_000 + batch * 100 + index, {
          ...course(3),
          userId: 1000 + batch * 100 + index,
          enrollmentSource: 'ADMIN_ENROLL',
        }),
      ),
    );
  }
  return { batches, failedLearners, completions };
}

async function post(base: string, events: Event[], id: string, sequence: string): Promise<boolean> {
  const body = JSON.stringify({ accountId, events });
  const signedAt = new Date(Math.floor(Date.now() / 1000) * 1000);
  try {
    const response = await fetch(`${base}/webhook`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': String(signedAt.getTime() / 1000),
        'webhook-signature': new Webhook(secret).sign(id, signedAt, body),
        'learnhook-sequence': sequence,
      },
      body,
    });
    await response.arrayBuffer();
    return response.status === 202;
  } catch {
    return false;
  }
}

async function waitUntil<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let value: T | undefined;
    try {
      value = await read();
      if (done(value)) return value;
    } catch {}
    if (Date.now() > deadline)
      throw new Error(`${what} did not happen within ${timeoutMs} ms (last: ${JSON.stringify(value)?.slice(0, 600)})`);
    await sleep(50);
  }
}

/** Registers the end-to-end suite on one store. */
export async function describeNotifyEndToEnd(store: 'sqlite' | 'postgres'): Promise<void> {
  const dialect = (await testDialects()).find((candidate) => candidate.name === store);
  if (!dialect) throw new Error(`no test store ${store}`);
  describe(`notifications end to end on ${dialect.name}`, { skip: dialect.skip }, () => {
    test('each example rule fires exactly once under duplicates, out-of-order arrival and a kill -9 mid-burst', async () => {
      const smtp = await startSmtpServer();
      const chat = await startReceiver(() => ({ status: 200 }));
      const db = await dialect.freshUrl();
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const env = { ...process.env, TEAM_CHAT_WEBHOOK_URL: chat.url };
      // Not spawnSync: the SMTP server the CLI checks runs in this process and must answer meanwhile.
      const cli = (...args: string[]) =>
        new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
          const run = spawn(process.execPath, ['bin/learnhook.js', 'mirror', ...args, '--db', db, '--smtp-url', smtp.url], { env });
          let stdout = '';
          let stderr = '';
          run.stdout.on('data', (chunk: Buffer) => {
            stdout += chunk;
          });
          run.stderr.on('data', (chunk: Buffer) => {
            stderr += chunk;
          });
          run.once('close', (status) => resolve({ status, stdout, stderr }));
        });
      const start = () =>
        spawn(
          process.execPath,
          [
            'bin/learnhook.js',
            'mirror',
            ...['--db', db, '--port', String(port), '--secret', secret, '--log-level', 'warn', '--smtp-url', smtp.url],
            ...['--notify-poll', '20ms', '--notify-retry-initial', '100ms', '--notify-lease', '2500ms', '--notify-timeout', '1s'],
            ...['--notify-digest-window', '10m'],
          ],
          { stdio: ['ignore', 'ignore', 'inherit'], env },
        );
      let child: ChildProcess | undefined;
      try {
        // Names and e-mails as `mirror import users` or enrichment would have written them.
        const database = await openDatabase<MirrorSchema>(db);
        try {
          await migrate(database as Parameters<typeof migrate>[0], 'mirror');
          const users = [...Array.from({ length: 30 }, (_, index) => 101 + index), 201, 202, 203, 204, 205];
          await database.db
            .insertInto('users')
            .values(
              users.map((userId) => ({
                account_id: accountId,
                user_id: userId,
                name: `Learner ${userId}`,
                email: `l${userId}@example.test`,
                user_unique_id: null,
                user_type: null,
                state: 'ACTIVE',
                time_zone_code: null,
                enriched_at: 1,
              })),
            )
            .execute();
        } finally {
          await database.close();
        }
        const loaded = await cli('rules', 'load', rulesFile);
        assert.equal(loaded.status, 0, loaded.stderr);
        assert.match(loaded.stdout, /rules: 4 added \(failed-certification, seats-free-again, daily-completions, bulk-enrollments\)/);

        child = start();
        await waitUntil(
          'the mirror came up',
          () => fetch(`${base}/healthz`),
          (response) => response.ok,
        );
        const { batches, failedLearners, completions } = workload();
        let sequence = 0;
        const ranges = batches.map((events) => {
          const range = `${sequence + 1}-${sequence + events.length}`;
          sequence += events.length;
          return range;
        });
        let acknowledged = 0;
        let killed = false;
        // One delivery in flight at a time, like the platform; a failed one is sent again until acknowledged.
        const send = async (events: Event[], id: string, range: string) => {
          while (!(await post(base, events, id, range))) {
            await sleep(50);
            if (child?.exitCode !== null || child?.signalCode !== null) {
              child = start();
              await waitUntil(
                'the mirror came back',
                () => fetch(`${base}/healthz`),
                (response) => response.ok,
              );
            }
          }
          acknowledged++;
          if (!killed && acknowledged === Math.floor(batches.length * 0.45)) {
            killed = true;
            const exited = new Promise((resolve) => child?.once('exit', resolve));
            child?.kill('SIGKILL');
            await exited;
          }
        };
        for (const [index, events] of batches.entries()) {
          await send(events, `msg_${index}`, ranges[index] as string);
          // Every third batch is delivered again (a lost acknowledgement), every fifth re-sent under a new batch id.
          if (index % 3 === 0) await send(events, `msg_${index}`, ranges[index] as string);
          if (index % 5 === 0) await send(events, `msg_${index}_again`, ranges[index] as string);
        }
        assert.ok(killed, 'the mirror was killed mid-burst');

        const status = async () => (await (await fetch(`${base}/status`)).json()) as MirrorStatus;
        // Everything applied; the single messages sent; only the two digests wait for their windows.
        const pendingOf = async () => {
          const body = (await (await fetch(`${base}/rules`, { headers: { accept: 'application/json' } })).json()) as {
            rules: Array<{ definition: { name: string }; pending: number }>;
          };
          return Object.fromEntries(body.rules.map((rule) => [rule.definition.name, rule.pending]));
        };
        await waitUntil('the inbox applied', status, (current) => current.inbox.backlog === 0);
        await waitUntil(
          'the single messages sent',
          pendingOf,
          (pending) => pending['failed-certification'] === 0 && pending['seats-free-again'] === 0,
        );
        for (const rule of ['daily-completions', 'bulk-enrollments']) {
          const response = await fetch(`${base}/rules/${rule}/flush`, { method: 'POST' });
          assert.equal(response.status, 200);
        }
        const final = await waitUntil('the digests sent', status, (current) => current.notifications.pending === 0);

        // E-mails, by Message-ID: each expected message exactly once; a repeat only with the same id, at most one per kill.
        const byId = new Map<string, typeof smtp.mails>();
        for (const mail of smtp.mails) byId.set(mail.messageId, [...(byId.get(mail.messageId) ?? []), mail]);
        const failedMails = [...byId.values()].map((copies) => copies[0]).filter((mail) => mail?.subject.includes('did not pass'));
        assert.deepEqual(
          failedMails.map((mail) => mail?.subject).sort(),
          failedLearners.map((userId) => `Learner ${userId} did not pass certification:77`).sort(),
          'one e-mail per failed learner; none for a pass, none for the ignored result of learner 130',
        );
        for (const mail of failedMails) {
          const userId = /Learner (\d+)/.exec(mail?.subject ?? '')?.[1];
          assert.deepEqual(mail?.to.sort(), [`l${userId}@example.test`, 'training-team@example.com']);
        }
        const digests = [...byId.values()].map((copies) => copies[0]).filter((mail) => mail?.subject.includes('completion(s)'));
        assert.deepEqual(digests.map((mail) => mail?.subject.replace(/ from .*/, '')).sort(), [
          'course:1: 3 completion(s)',
          'course:2: 2 completion(s)',
        ]);
        for (const [userId] of completions)
          assert.ok(digests.some((mail) => mail?.text.includes(`Learner ${userId} <l${userId}@example.test>`)));

        // Chat messages, by idempotency key.
        const chatById = new Map<string, string[]>();
        for (const delivery of chat.deliveries) {
          const key = String(delivery.headers['idempotency-key']);
          chatById.set(key, [...(chatById.get(key) ?? []), (delivery.body as unknown as { text: string }).text]);
        }
        const chatTexts = [...chatById.values()].map((copies) => copies[0] as string);
        assert.deepEqual(
          chatTexts.filter((text) => text.includes('free again')).sort(),
          [1, 2, 3, 4, 5].map(
            (n) => `1 seat(s) free again on "${instance(n)}" of "course:${n}" (9 of 10 taken), 4 learner(s) on the waitlist.`,
          ),
        );
        const bulk = chatTexts.filter((text) => text.includes('enrolled by an administrator'));
        assert.equal(bulk.length, 1, 'the bulk enrollment is one message');
        assert.match(bulk[0] ?? '', /^500 learner\(s\) enrolled by an administrator\n/);

        const copies = smtp.mails.length - byId.size + (chat.deliveries.length - chatById.size);
        assert.ok(copies <= final.notifications.inDoubt, `${copies} repeated sends, ${final.notifications.inDoubt} counted in doubt`);
        assert.ok(final.notifications.inDoubt <= 1, 'at most the one send in flight at the kill is in doubt');
        assert.equal(final.notifications.sent, failedLearners.length + 5 + 2 + 1);
        assert.deepEqual(
          final.notifications.channels.map((channel) => channel.state),
          ['ok', 'ok'],
        );
      } finally {
        if (child && child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((resolve) => child?.once('exit', resolve));
          child.kill('SIGTERM');
          await exited;
        }
        await chat.close();
        await smtp.close();
        await dropTestDatabase(db);
      }
    });
  });
}
