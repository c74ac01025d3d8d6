// The package's consumer SDK, used as the README shows: verify a delivery, parse it tolerantly, narrow events, reduce.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { type EnrollmentRow, parseEnvelope, reduceEnrollment, sampleEvent, signature, typedEvent, verify } from '../index.ts';

const secret = `whsec_${Buffer.from('a secret of twenty-four!').toString('base64')}`;

describe('consumer SDK', () => {
  test('verify accepts what the standardwebhooks package signs and refuses anything else', () => {
    const body = JSON.stringify({ accountId: 1, events: [sampleEvent('COURSE_ENROLLMENT')] });
    const signedAt = new Date(Date.UTC(2026, 0, 1, 12));
    const headers = {
      'webhook-id': 'msg_1',
      'webhook-timestamp': String(signedAt.getTime() / 1000),
      'webhook-signature': new Webhook(secret).sign('msg_1', signedAt, body),
    };
    assert.equal(signature(secret, 'msg_1', headers['webhook-timestamp'], body), headers['webhook-signature']);
    const options = { secrets: [secret], toleranceMs: 5 * 60_000, now: signedAt.getTime() + 1000 };
    assert.deepEqual(verify(body, headers, options), { ok: true });
    assert.equal(verify(`${body} `, headers, options).ok, false);
    assert.equal(verify(body, headers, { ...options, now: signedAt.getTime() + 6 * 60_000 }).ok, false);
    assert.equal(verify(body, { ...headers, 'webhook-id': 'msg_2' }, options).ok, false);
  });

  test('parseEnvelope, typedEvent and the reducer build an enrollment record', () => {
    const progress = { ...sampleEvent('LEARNER_PROGRESS'), timestamp: Date.UTC(2026, 0, 1, 10, 5) };
    const enrollment = {
      ...sampleEvent('COURSE_ENROLLMENT'),
      timestamp: '2026-01-01T10:00:00.000Z',
      data: {
        ...sampleEvent('COURSE_ENROLLMENT').data,
        userId: progress.data.userId,
        loInstanceId: progress.data.loInstanceId,
        loId: progress.data.loId,
      },
    };
    const parsed = parseEnvelope({ accountId: 1, events: [progress, enrollment] });
    assert.ok(parsed.ok);
    let record: EnrollmentRow | undefined;
    const notes: string[] = [];
    for (const event of parsed.envelope.events) {
      const typed = typedEvent(event);
      if (typed?.family === 'progress') assert.equal(typed.data.progressPercent, 50);
      const reduction = reduceEnrollment(record, parsed.envelope.accountId, event);
      record = reduction.row;
      notes.push(...reduction.observations.map((observation) => observation.kind));
    }
    assert.equal(record?.status, 'ENROLLED');
    assert.equal(record?.progress_percent, 50);
    assert.deepEqual(notes, ['ignored_by_rule']);
    assert.deepEqual(parseEnvelope({ accountId: 0, events: [] }), {
      ok: false,
      problems: ['accountId must be a positive integer', 'events must be a non-empty array'],
    });
  });
});
