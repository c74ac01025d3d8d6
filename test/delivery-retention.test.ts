// Scaled retention and auto-disable: lost events are counted, the webhook is disabled, and the e-mails reach a real SMTP server.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { untilSignalled } from './support/signals.ts';
import { testDialects } from './support/test-databases.ts';
import { startTestProducer, type TestProducer } from './support/test-producer.ts';
import { startReceiver } from './support/test-receiver.ts';

const dialects = await testDialects();

interface ReceivedMail {
  to: string[];
  raw: string;
}

async function startSmtp(): Promise<{ url: string; mails: ReceivedMail[]; arrivals: EventEmitter; close(): Promise<void> }> {
  const mails: ReceivedMail[] = [];
  /** Fires 'mail' as each e-mail arrives. */
  const arrivals = new EventEmitter();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((recipient) => recipient.address), raw: Buffer.concat(chunks).toString('utf8') });
        arrivals.emit('mail');
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return { url: `smtp://127.0.0.1:${port}`, mails, arrivals, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

for (const dialect of dialects) {
  describe(`retention and disable on ${dialect.name}`, { skip: dialect.skip }, () => {
    let producer: TestProducer;
    let smtp: Awaited<ReturnType<typeof startSmtp>>;
    before(async () => {
      smtp = await startSmtp();
      producer = await startTestProducer(dialect, {
        retentionMs: 3000,
        disableAfterMs: 3000,
        reminderEveryMs: 1000,
        retryInitialMs: 100,
        retryMaxMs: 800,
        smtpUrl: smtp.url,
      });
    });
    after(async () => {
      await producer?.stop();
      await smtp?.close();
    });

    test('a failing webhook loses its events to retention, gets reminders, is disabled, and shows the gap when re-enabled', async () => {
      let failing = true;
      const receiver = await startReceiver(() => ({ status: failing ? 500 : 202 }));
      try {
        const accountId = await producer.createAccount('failing', 'ops@example.test');
        const { id } = await producer.createWebhook(accountId, { name: 'down', url: receiver.url, events: ['LEARNING_OBJECT_DRAFT'] });
        await producer.append(accountId, 5);
        const headers = { authorization: `Bearer ${producer.adminToken}` };
        const base = `/v1/accounts/${accountId}/webhooks/${id}`;
        const statsOf = async () => (await producer.app.inject({ url: `${base}/stats`, headers })).json();
        const stats = await untilSignalled(
          producer.context.signals,
          ['webhook-released', 'dispatcher-scanned'],
          async () => {
            const current = await statsOf();
            return current.state === 'disabled' && current.lost.count >= 5 ? current : undefined;
          },
          { what: 'the failing webhook disabled with its 5 events lost' },
        );
        assert.equal(stats.state, 'disabled');
        assert.match(stats.disabledReason, /failed/);
        assert.equal(stats.lost.count, 5);
        assert.deepEqual(
          stats.lost.ranges.map((range: { firstSeq: number; lastSeq: number; count: number }) => [
            range.firstSeq,
            range.lastSeq,
            range.count,
          ]),
          [[1, 5, 5]],
        );
        assert.equal(stats.backlog, 0);
        assert.ok(receiver.deliveries.length >= 3, 'it was retried meanwhile');

        await untilSignalled(smtp.arrivals, ['mail'], () => smtp.mails.some((mail) => /^Subject: .*was disabled/m.test(mail.raw)), {
          what: 'the e-mail saying the webhook was disabled',
        });
        const subjects = smtp.mails.map((mail) => /^Subject: (.*)$/m.exec(mail.raw)?.[1] ?? '');
        assert.ok(smtp.mails.every((mail) => mail.to.includes('ops@example.test')));
        assert.ok(subjects.filter((subject) => subject.includes('is failing')).length >= 1, `reminders: ${subjects.join(' | ')}`);
        assert.equal(subjects.filter((subject) => subject.includes('was disabled')).length, 1);

        failing = false;
        await producer.app.inject({ method: 'PATCH', url: base, headers, payload: { active: true } });
        const [fresh] = await producer.append(accountId, 1);
        await receiver.waitFor(() => receiver.acknowledgedEvents().length === 1);
        assert.deepEqual(receiver.acknowledgedEvents(), [fresh]);
        const first = receiver.deliveries[0]?.headers['learnhook-sequence'];
        assert.equal(first, '1-5', 'the lost batch had numbers 1-5');
        assert.equal(receiver.deliveries.at(-1)?.headers['learnhook-sequence'], '6-6', 'the receiver sees the gap after 0');
      } finally {
        await receiver.close();
      }
    });
  });
}
