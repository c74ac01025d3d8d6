// Notifications on both stores, in process with an injected clock: the docs' example rules against a real SMTP server and
// chat receiver; exactly once under duplicates, nothing for ignored events, digests per window, dead channels, lease takeover.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { testDialects } from '../../../test/support/test-databases.ts';
import { freePort, type Receiver, startReceiver } from '../../../test/support/test-receiver.ts';
import { startSmtpServer, type TestSmtpServer } from '../../../test/support/test-smtp-server.ts';
import { sampleEvent } from '../../catalog/index.ts';
import { loadSettings, type Settings } from '../../config.ts';
import type { Database } from '../../store/database.ts';
import { createMirrorContext, type MirrorContext } from '../mirror-context.ts';
import { createMirrorMetrics } from '../mirror-metrics.ts';
import { projectNext } from '../projector.ts';
import type { MirrorSchema } from '../schema.ts';
import { InboxWriter } from '../store-batch.ts';
import { Channels } from './channels.ts';
import { checkStoredChannels } from './check-stored-channels.ts';
import { readNotifyStatus } from './read-notify-status.ts';
import { checkRules, parseRulesFile } from './rules.ts';
import { flushDigests, listRules, putRules, removeRules } from './rules-store.ts';
import { type SendStep, sendOne } from './send-notifications.ts';

const dialects = await testDialects();
const accountId = 7;
const rulesFile = fs.readFileSync(new URL('../../../docs/examples/notification-rules.yaml', import.meta.url), 'utf8');
const day = 86_400_000;
const start = Date.UTC(2026, 2, 10, 9, 0, 0);

type Data = Record<string, unknown>;
let counter = 0;

function event(name: string, at: number, data: Data, eventId = `ev-${++counter}`) {
  const sample = sampleEvent(name);
  return { ...sample, eventId, timestamp: new Date(at).toISOString(), data: { ...sample.data, ...data } };
}

const certification = { loId: 'certification:900', loInstanceId: 'certification:900_1', loType: 'certification' };
const course = (n: number) => ({ loId: `course:${n}`, loInstanceId: `course:${n}_1`, loType: 'course' });

for (const dialect of dialects) {
  describe(`notifications on ${dialect.name}`, { skip: dialect.skip }, () => {
    let database: Database<MirrorSchema>;
    let smtp: TestSmtpServer;
    let chat: Receiver;
    let chatAnswer: (index: number) => { status: number } | 'hang' = () => ({ status: 200 });
    let clock = start;
    let context: MirrorContext;
    let channels: Channels;
    let settings: Settings;
    let inbox: InboxWriter;
    let batches = 0;

    const deliver = async (events: unknown[]) => {
      const body = JSON.stringify({ accountId, events });
      await inbox.write({ batchId: `b-${++batches}`, accountId, eventCount: events.length, body, replay: false, test: false }, clock);
      while (await projectNext(context, false)) {}
    };
    /** Sends every message due now; returns the steps. */
    const sendDue = async (using = channels) => {
      const steps: SendStep[] = [];
      for (;;) {
        const step = await sendOne(context, using);
        if (step.kind === 'idle') return steps;
        steps.push(step);
      }
    };
    const chatTexts = () => chat.deliveries.map((delivery) => (delivery.body as unknown as { text: string }).text);

    before(async () => {
      database = await dialect.open<MirrorSchema>('mirror');
      smtp = await startSmtpServer();
      chat = await startReceiver((_delivery, index) => chatAnswer(index));
      settings = loadSettings(
        {
          smtpUrl: smtp.url,
          mailFrom: 'learnhook <notify@example.test>',
          logLevel: 'silent',
          notifyRetryInitialMs: 1000,
          notifyRetryMaxMs: 8000,
          notifyDigestWindowMs: 60_000,
          notifyTimeoutMs: 500,
          notifyLeaseMs: 5000,
        },
        {},
      );
      context = createMirrorContext(settings, database, { now: () => clock });
      channels = new Channels(settings);
      inbox = new InboxWriter(database);
      const rules = parseRulesFile(rulesFile, { TEAM_CHAT_WEBHOOK_URL: chat.url });
      await putRules(database.db, rules, { now: clock });
      // Names as enrichment or `mirror import` would have written them.
      await database.db
        .insertInto('users')
        .values(
          [501, 502, 503, 601, 602, 603, 604, 605].map((userId) => ({
            account_id: accountId,
            user_id: userId,
            name: `Learner ${userId}`,
            email: `learner${userId}@example.test`,
            user_unique_id: null,
            user_type: null,
            state: 'ACTIVE',
            time_zone_code: null,
            enriched_at: clock,
          })),
        )
        .execute();
      const lo = (loId: string, name: string) => ({
        account_id: accountId,
        lo_id: loId,
        lo_type: loId.split(':')[0] as string,
        last_event_name: null,
        last_event_id: null,
        last_event_at: null,
        deleted_at: null,
        name,
        description: null,
        state: 'Published',
        date_created: null,
        date_published: null,
        date_updated: null,
        duration: null,
        lo_format: null,
        enrollment_type: null,
        enriched_at: clock,
      });
      await database.db
        .insertInto('learning_objects')
        .values([lo('certification:900', 'Safety certification'), lo('course:1', 'Forklift basics'), lo('course:2', 'First aid')])
        .execute();
    });
    after(async () => {
      channels.close();
      await chat.close();
      await smtp.close();
      await database.close();
    });

    test('failed certification: one e-mail to the learner and the training team, even when the event is delivered twice', async () => {
      const failed = event('CERTIFICATION_COMPLETED', clock, { ...certification, userId: 501, hasPassed: false });
      await deliver([failed, event('CERTIFICATION_COMPLETED', clock, { ...certification, userId: 502, hasPassed: true })]);
      await deliver([failed]);
      const steps = await sendDue();
      assert.deepEqual(
        steps.map((step) => step.kind),
        ['sent'],
      );
      assert.equal(smtp.mails.length, 1);
      const [mail] = smtp.mails;
      assert.deepEqual(mail?.to.sort(), ['learner501@example.test', 'training-team@example.com']);
      assert.equal(mail?.subject, 'Learner 501 did not pass Safety certification');
      assert.match(mail?.text ?? '', /Hello Learner 501,/);
      assert.match(mail?.messageId ?? '', /^<learnhook-notification-\d+@/);
    });

    test('an event the ordering rules ignore notifies nobody', async () => {
      const before = smtp.mails.length;
      await deliver([event('CERTIFICATION_UNENROLLMENT', clock, { ...certification, userId: 503 })]);
      // Older than the record's latest status event: rule 3 ignores it.
      await deliver([event('CERTIFICATION_COMPLETED', clock - 60_000, { ...certification, userId: 503, hasPassed: false })]);
      const ignored = await database.db.selectFrom('anomalies').select('kind').where('subject', '=', '503/certification:900_1').execute();
      assert.deepEqual(
        ignored.map((row) => row.kind),
        ['ignored_by_rule'],
      );
      assert.deepEqual(await sendDue(), []);
      assert.equal(smtp.mails.length, before);
    });

    test('seats free again: one chat message per full → free change; repeats, stale and out-of-order counts say nothing', async () => {
      const stats = (at: number, enrollmentCount: number, waitlistCount: number) =>
        event('CI_STATS', at, { loInstanceId: 'course:1_1', seatLimit: 20, enrollmentCount, waitlistCount });
      const full = stats(clock + 1, 20, 3);
      await deliver([full]);
      const freed = stats(clock + 2, 19, 3);
      await deliver([freed, stats(clock + 3, 18, 3)]);
      await deliver([freed]); // a duplicate
      await deliver([stats(clock, 20, 5)]); // older than the counts shown: not applied
      await deliver([stats(clock + 4, 20, 2), stats(clock + 5, 17, 0)]); // free again, but nobody waits
      await deliver([stats(clock + 6, 20, 1), stats(clock + 7, 19, 1)]);
      await sendDue();
      assert.deepEqual(chatTexts(), [
        '1 seat(s) free again on "course:1_1" of "Forklift basics" (19 of 20 taken), 3 learner(s) on the waitlist.',
        '1 seat(s) free again on "course:1_1" of "Forklift basics" (19 of 20 taken), 1 learner(s) on the waitlist.',
      ]);
      const keys = chat.deliveries.map((delivery) => delivery.headers['idempotency-key']);
      assert.equal(new Set(keys).size, 2, 'each message has its own idempotency key');
    });

    test('a bulk enrollment of 500 _BATCH events becomes one chat message, sent when the default window ends', async () => {
      const before = chat.deliveries.length;
      for (let batch = 0; batch < 5; batch++) {
        await deliver(
          Array.from({ length: 100 }, (_, index) =>
            event('COURSE_ENROLLMENT_BATCH', clock, {
              ...course(2),
              userId: 10_000 + batch * 100 + index,
              enrollmentSource: 'ADMIN_ENROLL',
            }),
          ),
        );
        clock += 1000;
      }
      const waiting = await sendDue();
      assert.deepEqual(waiting, [], 'nothing before the window ends');
      clock += settings.notifyDigestWindowMs;
      await sendDue();
      const sent = chatTexts().slice(before);
      assert.equal(sent.length, 1);
      const lines = (sent[0] ?? '').split('\n');
      assert.equal(lines[0], '500 learner(s) enrolled by an administrator');
      assert.equal(lines.filter((line) => line.startsWith('- ')).length, 100);
      assert.equal(lines.at(-1), '… and 400 more');
      // The next run opens a digest of its own.
      await deliver([event('COURSE_ENROLLMENT_BATCH', clock, { ...course(2), userId: 20_000 })]);
      clock += settings.notifyDigestWindowMs;
      await sendDue();
      assert.match(chatTexts().at(-1) ?? '', /^1 learner\(s\) enrolled by an administrator\n\n- user 20000 in First aid/);
    });

    test('daily completions: one e-mail per course after the UTC day ends; a later completion goes into the next day', async () => {
      const before = smtp.mails.length;
      clock = start + 2 * day + 3_600_000;
      const completions = [
        [601, 1],
        [602, 1],
        [603, 1],
        [604, 2],
        [605, 2],
      ] as const;
      for (const [userId, n] of completions) {
        await deliver([event('COURSE_COMPLETED', clock, { ...course(n), userId, hasPassed: true })]);
        clock += 60_000;
      }
      assert.deepEqual(await sendDue(), []);
      clock = Math.ceil(clock / day) * day - 1; // the last millisecond of the day: nothing yet
      assert.deepEqual(await sendDue(), []);
      clock += 1;
      await sendDue();
      const mails = smtp.mails.slice(before).sort((a, b) => a.subject.localeCompare(b.subject));
      assert.deepEqual(
        mails.map((mail) => mail.subject.replace(/ from .*/, '')),
        ['First aid: 2 completion(s)', 'Forklift basics: 3 completion(s)'],
      );
      assert.deepEqual(mails[1]?.to, ['training-team@example.com']);
      assert.match(mails[1]?.text ?? '', /- Learner 601 <learner601@example\.test> completed Forklift basics \(passed: true\)/);
      // A completion after the digest was sent opens the next day's.
      await deliver([event('COURSE_COMPLETED', clock, { ...course(1), userId: 501, hasPassed: true })]);
      assert.deepEqual(await sendDue(), []);
      assert.equal(await flushDigests(database.db, ['daily-completions'], clock), 1);
      await sendDue();
      assert.match(smtp.mails.at(-1)?.subject ?? '', /^Forklift basics: 1 completion\(s\)/);
    });

    test('a dead channel is retried with backoff, shows as failing in status and metrics, then sends once', async () => {
      chatAnswer = () => ({ status: 500 });
      const before = chat.deliveries.length;
      await deliver([
        event('CI_STATS', clock + 10, { loInstanceId: 'course:2_1', seatLimit: 5, enrollmentCount: 5, waitlistCount: 2 }),
        event('CI_STATS', clock + 11, { loInstanceId: 'course:2_1', seatLimit: 5, enrollmentCount: 4, waitlistCount: 2 }),
      ]);
      const [failed] = await sendDue();
      assert.equal(failed?.kind, 'failed');
      let status = await readNotifyStatus(context);
      const channel = status.channels.find((candidate) => candidate.channel.startsWith('chat '));
      assert.equal(channel?.state, 'failing');
      assert.match(channel?.lastError ?? '', /answered 500/);
      assert.equal(status.retrying, 1);
      const metrics = await createMirrorMetrics(context).metrics();
      assert.match(metrics, /learnhook_mirror_notify_channel_failing\{channel="chat http:\/\/127\.0\.0\.1:\d+ #\w+"\} 1/);
      assert.deepEqual(await sendDue(), [], 'not again before the backoff');
      chatAnswer = () => ({ status: 200 });
      clock += settings.notifyRetryInitialMs;
      assert.deepEqual(
        (await sendDue()).map((step) => step.kind),
        ['sent'],
      );
      status = await readNotifyStatus(context);
      assert.equal(status.channels.find((candidate) => candidate.channel.startsWith('chat '))?.state, 'ok');
      assert.equal(chat.deliveries.length - before, 2, 'one failed attempt, one sent');
      assert.equal(chat.deliveries.at(-1)?.headers['idempotency-key'], chat.deliveries.at(-2)?.headers['idempotency-key']);
    });

    test('progress crossing a threshold fires once, whatever order the progress events arrive in', async () => {
      const [rule] = checkRules(
        [
          {
            name: 'progress-80',
            events: ['LEARNER_PROGRESS'],
            condition: 'previous.progressPercent < 80 and record.progressPercent >= 80',
            channel: { type: 'chat', url: chat.url },
            template: '{{learner.name}} passed 80 % of {{lo.name}} ({{record.progressPercent}} %)',
          },
        ],
        {},
      );
      await putRules(database.db, [rule as never], { now: clock });
      const before = chat.deliveries.length;
      const progress = (at: number, progressPercent: number) =>
        event('LEARNER_PROGRESS', at, { ...course(2), userId: 601, progressPercent });
      await deliver([event('COURSE_ENROLLMENT', clock, { ...course(2), userId: 601 })]);
      await deliver([progress(clock + 3000, 50)]);
      await deliver([progress(clock + 1000, 85)]); // older, but the period's highest: the record crosses 80 now
      await deliver([progress(clock + 2000, 90), progress(clock + 4000, 95)]); // already above: nothing more
      await deliver([event('COURSE_COMPLETED', clock + 5000, { ...course(2), userId: 601, hasPassed: true })]);
      await deliver([progress(clock + 6000, 100)]); // after a completion: ignored by rule 2
      await sendDue();
      assert.deepEqual(chatTexts().slice(before), ['Learner 601 passed 80 % of First aid (85 %)']);
      await removeRules(database.db, ['progress-80']);
    });

    test('at start, a rule whose channel does not answer is named and its channel shown failing', async () => {
      const dead = `http://127.0.0.1:${await freePort()}/hook`;
      const [rule] = checkRules(
        [{ name: 'dead-chat', events: ['CI_STATS'], channel: { type: 'chat', url: dead }, template: '{{instance.id}}' }],
        {},
      );
      await putRules(database.db, [rule as never], { now: clock });
      await checkStoredChannels(context, channels);
      const failing = (await readNotifyStatus(context)).channels.filter((channel) => channel.state === 'failing');
      assert.equal(failing.length, 1);
      assert.match(failing[0]?.lastError ?? '', /^rule "dead-chat": channel\.url: cannot reach 127\.0\.0\.1:\d+: ECONNREFUSED/);
      await removeRules(database.db, ['dead-chat']);
    });

    test('a sender that stops mid-send loses its lease: another sends the message again (same key) and counts it in doubt', async () => {
      let hung = false;
      chatAnswer = () => {
        if (hung) return { status: 200 };
        hung = true;
        return 'hang';
      };
      const before = chat.deliveries.length;
      await deliver([
        event('CI_STATS', clock + 20, { loInstanceId: 'course:2_1', seatLimit: 5, enrollmentCount: 5, waitlistCount: 2 }),
        event('CI_STATS', clock + 21, { loInstanceId: 'course:2_1', seatLimit: 5, enrollmentCount: 3, waitlistCount: 2 }),
      ]);
      const stuck = sendOne(context, channels);
      await chat.waitFor(() => chat.deliveries.length > before);
      clock += settings.notifyLeaseMs + 1;
      const other = new Channels(settings);
      try {
        assert.deepEqual(
          (await sendDue(other)).map((step) => step.kind),
          ['sent'],
        );
      } finally {
        other.close();
      }
      const late = await stuck;
      assert.equal(late.kind, 'failed', 'the first sender times out, and its late result changes nothing');
      const sent = chat.deliveries.slice(before);
      assert.equal(sent.length, 2);
      assert.equal(sent[0]?.headers['idempotency-key'], sent[1]?.headers['idempotency-key']);
      const [summary] = (await listRules(database.db)).filter((rule) => rule.definition.name === 'seats-free-again');
      assert.equal(summary?.inDoubt, 1);
      assert.equal((await readNotifyStatus(context)).inDoubt, 1);
      chatAnswer = () => ({ status: 200 });
    });
  });
}
