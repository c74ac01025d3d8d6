// The catalog holds the guide's 27 events, and its samples and schemas agree with each other.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { exportCatalog } from './export-catalog.ts';
import { enrollmentEventName, eventDefinitions, eventNames, isEventName, parseSequenceRange, sampleEvent, validateEvent } from './index.ts';
import { isRealUtcTime } from './schemas.ts';

describe('event catalog', () => {
  test('has the 27 events of the guide: 15 real-time and 12 batch', () => {
    assert.equal(eventNames.length, 27);
    assert.equal(new Set(eventNames).size, 27);
    const realtime = eventDefinitions.filter((definition) => definition.class === 'realtime').map((definition) => definition.name);
    assert.deepEqual(
      [...realtime].sort(),
      [
        'CI_STATS',
        'COURSE_ENROLLMENT',
        'COURSE_COMPLETED',
        'LEARNING_PATH_ENROLLMENT',
        'LEARNING_PATH_COMPLETED',
        'CERTIFICATION_ENROLLMENT',
        'CERTIFICATION_COMPLETED',
        'COURSE_UNENROLLMENT',
        'LEARNING_PATH_UNENROLLMENT',
        'CERTIFICATION_UNENROLLMENT',
        'LEARNING_OBJECT_DRAFT',
        'LEARNING_OBJECT_DELETION',
        'LEARNING_OBJECT_MODIFICATION',
        'LEARNING_OBJECT_INSTANCE_MODIFICATION',
        'LEARNING_OBJECT_INSTANCE_DELETION',
      ].sort(),
    );
    assert.ok(
      eventDefinitions
        .filter((definition) => definition.class === 'batch')
        .every((d) => d.name.endsWith('_BATCH') || d.name === 'LEARNER_PROGRESS'),
    );
  });

  test('every sample validates against its own schema', () => {
    for (const name of eventNames) assert.deepEqual(validateEvent(sampleEvent(name)), [], name);
  });

  test('validation names the field and the problem', () => {
    const wrong = { ...sampleEvent('COURSE_ENROLLMENT'), data: { ...sampleEvent('COURSE_ENROLLMENT').data, userId: 'seven' } };
    assert.match(validateEvent(wrong).join('\n'), /event\.data\.userId: Expected integer/);
    assert.deepEqual(validateEvent({ ...sampleEvent('CI_STATS'), eventName: 'COURSE_STARTED' }), [
      'event.eventName "COURSE_STARTED" is not an event of the catalog',
    ]);
    assert.match(validateEvent({ ...sampleEvent('CI_STATS'), surprise: 1 }).join('\n'), /surprise/);
    assert.match(validateEvent({ ...sampleEvent('LEARNING_OBJECT_DRAFT'), timestamp: '1731037792000' }).join('\n'), /timestamp/);
    const courseIdsOnCertification = sampleEvent('CERTIFICATION_ENROLLMENT_BATCH');
    assert.match(
      validateEvent({ ...courseIdsOnCertification, data: { ...courseIdsOnCertification.data, loType: 'course' } }).join('\n'),
      /loType/,
    );
    assert.deepEqual(validateEvent('text'), ['event must be an object']);
  });

  test("a certification completion without hasPassed is valid (the guide's samples omit it)", () => {
    const event = sampleEvent('CERTIFICATION_COMPLETED');
    const { hasPassed: _omitted, ...data } = event.data;
    assert.deepEqual(validateEvent({ ...event, data }), []);
  });

  test('enrollment event names follow the actor: real-time for the learner, _BATCH otherwise', () => {
    assert.equal(enrollmentEventName('enrollment', 'course', 'realtime'), 'COURSE_ENROLLMENT');
    assert.equal(enrollmentEventName('completion', 'learningProgram', 'batch'), 'LEARNING_PATH_COMPLETED_BATCH');
    assert.equal(enrollmentEventName('unenrollment', 'certification', 'batch'), 'CERTIFICATION_UNENROLLMENT_BATCH');
    assert.ok(isEventName('LEARNER_PROGRESS'));
    assert.ok(!isEventName('learner_progress'));
  });

  test('the sequence header parses only well-formed ranges', () => {
    assert.deepEqual(parseSequenceRange('41-45'), { first: 41, last: 45 });
    assert.equal(parseSequenceRange('45-41'), undefined);
    assert.equal(parseSequenceRange('0-3'), undefined);
    assert.equal(parseSequenceRange(undefined), undefined);
    assert.equal(parseSequenceRange('12345678901234567890-12345678901234567890'), undefined);
    assert.equal(parseSequenceRange('1-9007199254740992'), undefined);
    assert.deepEqual(parseSequenceRange('1-9007199254740991'), { first: 1, last: 9007199254740991 });
  });

  test('export writes one JSON Schema per event, the envelope and an AsyncAPI 3 document', () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'learnhook-catalog-'));
    const written = exportCatalog(folder, '0.0.0-test');
    assert.equal(written.length, 29);
    const asyncapi = JSON.parse(fs.readFileSync(path.join(folder, 'asyncapi.json'), 'utf8'));
    assert.equal(asyncapi.asyncapi, '3.0.0');
    assert.equal(Object.keys(asyncapi.components.messages).length, 27);
    const schema = JSON.parse(fs.readFileSync(path.join(folder, 'events', 'CI_STATS.schema.json'), 'utf8'));
    assert.deepEqual(schema.required, ['eventId', 'eventName', 'timestamp', 'eventInfo', 'data']);
  });

  test('ids and strings have maximum lengths, so one event is bounded (ids 128 characters, eventInfo 512)', () => {
    const sample = sampleEvent('COURSE_ENROLLMENT');
    const data = sample.data as Record<string, unknown>;
    const withData = (changes: Record<string, unknown>) => ({ ...sample, data: { ...data, ...changes } });
    const digits = (count: number) => '1'.repeat(count);
    // At the limit: accepted.
    assert.deepEqual(validateEvent({ ...sample, eventId: 'e'.repeat(128), eventInfo: 'i'.repeat(512) }), []);
    assert.deepEqual(validateEvent(withData({ loId: `course:${digits(121)}`, loInstanceId: `course:${digits(119)}_1` })), []);
    // One over: refused, each naming the field.
    const refused = (event: unknown, field: string) => {
      const problems = validateEvent(event);
      assert.ok(
        problems.some((problem) => problem.includes(field)),
        `${field}: ${problems.join('; ')}`,
      );
    };
    refused({ ...sample, eventId: 'e'.repeat(129) }, 'eventId');
    refused({ ...sample, eventInfo: 'i'.repeat(513) }, 'eventInfo');
    refused(withData({ loId: `course:${digits(122)}` }), 'loId');
    refused(withData({ loInstanceId: `course:${digits(120)}_1` }), 'loInstanceId');
    refused(withData({ enrollmentSource: 'S'.repeat(65) }), 'enrollmentSource');
    refused({ ...sample, timestamp: `2026-01-31T09:15:02.${digits(30)}Z` }, 'timestamp');
  });
});

test('a time is real exactly when a Date built from its fields reads them back unchanged', () => {
  const pad = (value: number, width = 2) => String(value).padStart(width, '0');
  /** The plain definition: Date.UTC rolls an impossible field over (Feb 30 becomes Mar 2), a real time reads back. */
  const readsBack = (y: number, mo: number, d: number, h: number, mi: number, s: number) => {
    const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
    return (
      date.getUTCFullYear() === y &&
      date.getUTCMonth() === mo - 1 &&
      date.getUTCDate() === d &&
      date.getUTCHours() === h &&
      date.getUTCMinutes() === mi &&
      date.getUTCSeconds() === s
    );
  };
  let real = 0;
  for (const year of [1900, 1999, 2000, 2023, 2024, 2100, 2400, 9999])
    for (let month = 0; month <= 13; month++)
      for (let day = 0; day <= 32; day++)
        for (const [hour, minute, second] of [
          [0, 0, 0],
          [23, 59, 59],
          [24, 0, 0],
          [12, 60, 0],
          [12, 0, 60],
        ] as const) {
          const text = `${pad(year, 4)}-${pad(month)}-${pad(day)}T${pad(hour)}:${pad(minute)}:${pad(second)}.250Z`;
          const expected = readsBack(year, month, day, hour, minute, second);
          assert.equal(isRealUtcTime(text), expected, text);
          if (expected) real++;
        }
  assert.equal(real, 8 * 365 * 2 + 3 * 2, 'every day of eight years (three of them leap years) at two times of day');
  for (const text of ['2026-01-01T00:00:00', '2026-01-01 00:00:00Z', '2026-1-01T00:00:00Z', '2026-01-01T00:00:00+01:00', ''])
    assert.equal(isRealUtcTime(text), false, `${text}: not the shape`);
});
