// One test per enrollment, progress and CI_STATS rule of SPEC §2.1, each named after the sentence it checks.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { validateEvent } from '../../catalog/index.ts';
import { DomainError } from '../../errors.ts';
import type { Enrollment } from '../domain.ts';
import { type ChildCourse, complete, type EnrollmentState, enroll, parentPercent, recordProgress, unenroll } from './enrollments.ts';
import { aLearningObject, anEnrollment, anInstance, at } from './fixtures.ts';
import { progressDelayMs, seededRandom } from './progress.ts';

const names = (events: { eventName: string }[]) => events.map((event) => event.eventName);
const noDelay = { minMs: 0, maxMs: 0 };
const random = seededRandom(7);

function courseState(overrides: Partial<EnrollmentState> = {}): EnrollmentState {
  return { lo: aLearningObject(), instance: anInstance(), enrollment: null, children: [], parent: null, ...overrides };
}

const path = aLearningObject({ id: 'learningProgram:2000001', loType: 'learningProgram', children: ['course:1', 'course:2'] });
const pathInstance = anInstance({ id: 'learningProgram:2000001_1', loId: path.id });

function child(index: number, enrollment: Enrollment | null = null): ChildCourse {
  const course = aLearningObject({ id: `course:${index}` });
  return { course, instance: anInstance({ id: `course:${index}_1`, loId: course.id }), enrollment };
}

function throughPath(index: number, overrides: Partial<Enrollment> = {}): Enrollment {
  return anEnrollment({
    userId: 1001,
    loId: `course:${index}`,
    loInstanceId: `course:${index}_1`,
    parentInstanceId: pathInstance.id,
    ...overrides,
  });
}

const pathEnrollment = anEnrollment({ loId: path.id, loInstanceId: pathInstance.id, loType: 'learningProgram' });

/** Every event a rule decides on must be valid by the catalog, once given its envelope fields. */
function assertCatalogValid(events: { eventName: string; data: Record<string, unknown> }[]): void {
  for (const event of events) {
    const problems = validateEvent({
      eventName: event.eventName,
      data: event.data,
      eventId: 'e',
      timestamp: new Date(at).toISOString(),
      eventInfo: 't',
    });
    assert.deepEqual(problems, [], `${event.eventName} is invalid`);
  }
}

describe('enrollment rules', () => {
  test('"The learner acts (self-enroll …) → real-time *_ENROLLMENT" with enrollmentSource SELF_ENROLL', () => {
    const decided = enroll(courseState(), { userId: 1001, actor: 'learner' }, at);
    assert.deepEqual(names(decided.events), ['COURSE_ENROLLMENT', 'CI_STATS']);
    assert.equal(decided.events[0]?.data.enrollmentSource, 'SELF_ENROLL');
    assert.equal(decided.events[0]?.data.dateEnrolled, new Date(at).toISOString());
    assertCatalogValid(decided.events);
  });

  test('"An administrator, manager or the platform acts (enrolls …) → the *_BATCH variant, not real-time"', () => {
    const sources = { admin: 'ADMIN_ENROLL', manager: 'MANAGER_ENROLL', platform: 'AUTO_ENROLL' } as const;
    for (const [actor, source] of Object.entries(sources) as [keyof typeof sources, string][]) {
      const decided = enroll(courseState(), { userId: 1001, actor }, at);
      assert.equal(decided.events[0]?.eventName, 'COURSE_ENROLLMENT_BATCH');
      assert.equal(decided.events[0]?.data.enrollmentSource, source);
    }
    const certification = aLearningObject({ id: 'certification:3', loType: 'certification' });
    const decided = enroll(
      courseState({ lo: certification, instance: anInstance({ id: 'certification:3_1', loId: certification.id }) }),
      { userId: 1001, actor: 'admin' },
      at,
    );
    assert.deepEqual(names(decided.events), ['CERTIFICATION_ENROLLMENT_BATCH']);
    assertCatalogValid(decided.events);
  });

  test('"The learner acts (… self-unenroll …) → real-time *_UNENROLLMENT"; others → *_UNENROLLMENT_BATCH', () => {
    const state = courseState({ enrollment: anEnrollment(), instance: anInstance({ enrollmentCount: 1 }) });
    assert.deepEqual(names(unenroll(state, { userId: 1001, actor: 'learner' }, at).events), ['COURSE_UNENROLLMENT', 'CI_STATS']);
    const batch = unenroll(state, { userId: 1001, actor: 'manager' }, at);
    assert.deepEqual(names(batch.events), ['COURSE_UNENROLLMENT_BATCH', 'CI_STATS']);
    assert.deepEqual(batch.changes.counts, { enrollmentCount: 0, waitlistCount: 0 });
    assert.equal(
      unenroll(courseState({ ...state, enrollment: anEnrollment({ progressPercent: 35 }) }), { userId: 1001, actor: 'learner' }, at).changes
        .enrollments[0]?.progressPercent,
      0,
    );
    assertCatalogValid(batch.events);
  });

  test('"The learner acts (… completes) → real-time *_COMPLETED"; an admin marking complete → *_COMPLETED_BATCH', () => {
    const state = courseState({ enrollment: anEnrollment() });
    const own = complete(state, { userId: 1001, actor: 'learner', hasPassed: false, progressDelay: noDelay }, at, random);
    assert.deepEqual(names(own.events), ['COURSE_COMPLETED']);
    assert.equal(own.events[0]?.data.hasPassed, false);
    assert.deepEqual(own.scheduled, []);
    const marked = complete(state, { userId: 1001, actor: 'admin', progressDelay: noDelay }, at, random);
    assert.deepEqual(names(marked.events), ['COURSE_COMPLETED_BATCH']);
    assertCatalogValid([...own.events, ...marked.events]);
  });

  test('"When a course is enrolled through a parent learning path …, enrollment … events are emitted only for the parent, never for the child course"', () => {
    const state = courseState({ lo: path, instance: pathInstance, children: [child(1), child(2)] });
    const decided = enroll(state, { userId: 1001, actor: 'learner' }, at);
    assert.deepEqual(names(decided.events), ['LEARNING_PATH_ENROLLMENT']);
    assert.deepEqual(
      decided.changes.enrollments.map((enrollment) => [enrollment.loInstanceId, enrollment.parentInstanceId]),
      [
        [pathInstance.id, null],
        ['course:1_1', pathInstance.id],
        ['course:2_1', pathInstance.id],
      ],
    );
    assert.equal(decided.changes.counts, null, 'courses enrolled through a parent take no seat and emit no CI_STATS');
  });

  test('"… unenrollment … events are emitted only for the parent": its courses leave silently', () => {
    const state = courseState({
      lo: path,
      instance: pathInstance,
      enrollment: pathEnrollment,
      children: [child(1, throughPath(1)), child(2, throughPath(2))],
    });
    const decided = unenroll(state, { userId: 1001, actor: 'admin' }, at);
    assert.deepEqual(names(decided.events), ['LEARNING_PATH_UNENROLLMENT_BATCH']);
    assert.deepEqual(
      decided.changes.enrollments.map((enrollment) => enrollment.state),
      ['UNENROLLED', 'UNENROLLED', 'UNENROLLED'],
    );
    assert.throws(
      () => unenroll(courseState({ enrollment: throughPath(1) }), { userId: 1001, actor: 'learner' }, at),
      (error: unknown) => error instanceof DomainError && /through learningProgram/.test(error.message),
    );
  });

  test('"A learner completing a course inside a learning path produces two progress events: one for the course and one for the learning path" (and no COURSE_COMPLETED)', () => {
    const courseEnrollment = throughPath(1);
    const parent = { lo: path, enrollment: pathEnrollment, children: [child(1, courseEnrollment), child(2, throughPath(2))] };
    const state = courseState({
      lo: aLearningObject({ id: 'course:1' }),
      instance: anInstance({ id: 'course:1_1', loId: 'course:1' }),
      enrollment: courseEnrollment,
      parent,
    });
    const decided = complete(state, { userId: 1001, actor: 'learner', progressDelay: noDelay }, at, random);
    assert.deepEqual(decided.events, []);
    assert.deepEqual(
      decided.scheduled.map((event) => [event.eventName, event.data.loId, event.data.progressPercent]),
      [
        ['LEARNER_PROGRESS', 'course:1', 100],
        ['LEARNER_PROGRESS', path.id, 50],
      ],
    );
    assertCatalogValid(decided.scheduled);
  });

  test("certification completions carry hasPassed too (SPEC §5: its absence in the guide's samples is a typo)", () => {
    const certification = aLearningObject({ id: 'certification:3', loType: 'certification' });
    const enrollment = anEnrollment({ loId: certification.id, loInstanceId: 'certification:3_1', loType: 'certification' });
    const state = courseState({ lo: certification, instance: anInstance({ id: 'certification:3_1', loId: certification.id }), enrollment });
    const decided = complete(state, { userId: 1001, actor: 'learner', hasPassed: true, progressDelay: noDelay }, at, random);
    assert.deepEqual(names(decided.events), ['CERTIFICATION_COMPLETED']);
    assert.equal(decided.events[0]?.data.hasPassed, true);
    assert.equal(decided.changes.enrollments[0]?.hasPassed, true);
    assertCatalogValid(decided.events);
  });

  test('when every course of the path is complete, the path completes: LEARNING_PATH_COMPLETED for the learner', () => {
    const courseEnrollment = throughPath(1);
    const parent = {
      lo: path,
      enrollment: pathEnrollment,
      children: [child(1, courseEnrollment), child(2, throughPath(2, { state: 'COMPLETED' }))],
    };
    const state = courseState({
      lo: aLearningObject({ id: 'course:1' }),
      instance: anInstance({ id: 'course:1_1', loId: 'course:1' }),
      enrollment: courseEnrollment,
      parent,
    });
    const decided = complete(state, { userId: 1001, actor: 'learner', progressDelay: noDelay }, at, random);
    assert.deepEqual(names(decided.events), ['LEARNING_PATH_COMPLETED']);
    assert.deepEqual(
      decided.scheduled.map((event) => event.data.progressPercent),
      [100, 100],
    );
    assertCatalogValid(decided.events);
  });

  test('"Tracked once a learner is enrolled and starts a module: LEARNER_PROGRESS (batch class)"; "May be delayed by up to 15 minutes"', () => {
    const range = { minMs: 0, maxMs: 15 * 60_000 };
    const decided = recordProgress(
      courseState({ enrollment: anEnrollment() }),
      { userId: 1001, actor: 'learner', progressPercent: 40, progressDelay: range },
      at,
      seededRandom(3),
    );
    assert.deepEqual(decided.events, [], 'nothing is appended at once');
    const [progress] = decided.scheduled;
    assert.equal(progress?.eventName, 'LEARNER_PROGRESS');
    assert.equal(progress?.timestamp, at, 'the event keeps the time the progress happened');
    assert.ok(progress && progress.dueAt >= at && progress.dueAt <= at + range.maxMs);
    assert.deepEqual(progress?.data, {
      loId: 'course:1000001',
      loType: 'course',
      userId: 1001,
      loInstanceId: 'course:1000001_1000001',
      dateStarted: new Date(at).toISOString(),
      progressPercent: 40,
    });
    assertCatalogValid(decided.scheduled);
  });

  test('progress delays are drawn within the range from a seeded source: the same seed gives the same delays', () => {
    const range = { minMs: 1000, maxMs: 5000 };
    const first = seededRandom(42);
    const second = seededRandom(42);
    const a = Array.from({ length: 20 }, () => progressDelayMs(range, first));
    const b = Array.from({ length: 20 }, () => progressDelayMs(range, second));
    assert.deepEqual(a, b);
    assert.ok(a.every((delay) => delay >= 1000 && delay <= 5000));
    assert.ok(new Set(a).size > 1, 'delays vary within the range');
  });

  test('"CI_STATS (real-time) when seat (licence) or waitlist availability of a course instance changes": enroll, waitlist, full', () => {
    const limited = anInstance({ seatLimit: 1, waitlistLimit: 1, enrollmentCount: 1 });
    const waitlisted = enroll(courseState({ instance: limited }), { userId: 1002, actor: 'learner' }, at);
    assert.deepEqual(names(waitlisted.events), ['CI_STATS']);
    assert.deepEqual(waitlisted.events[0]?.data, { loInstanceId: limited.id, waitlistCount: 1, enrollmentCount: 1, seatLimit: 1 });
    assert.equal(waitlisted.changes.enrollments[0]?.state, 'WAITLISTED');
    assert.throws(
      () => enroll(courseState({ instance: { ...limited, waitlistCount: 1 } }), { userId: 1003, actor: 'learner' }, at),
      (error: unknown) => error instanceof DomainError && error.kind === 'conflict' && /is full/.test(error.message),
    );
  });

  test('"Instance level only; never for learning paths or certifications"', () => {
    const decided = enroll(
      courseState({ lo: path, instance: { ...pathInstance, seatLimit: 5 }, children: [child(1)] }),
      { userId: 1001, actor: 'learner' },
      at,
    );
    assert.ok(!names(decided.events).includes('CI_STATS'));
  });

  test("a learning path's progress is the mean of its courses' progress", () => {
    assert.equal(parentPercent([child(1, throughPath(1, { progressPercent: 40 })), child(2, throughPath(2, { state: 'COMPLETED' }))]), 70);
    assert.equal(parentPercent([child(1), child(2, throughPath(2, { progressPercent: 30 }))]), 15);
  });

  test('enrolling twice, enrolling in a draft or suspended instance, completing without enrollment are refused', () => {
    assert.throws(() => enroll(courseState({ enrollment: anEnrollment() }), { userId: 1001, actor: 'learner' }, at), /already/);
    assert.throws(
      () => enroll(courseState({ lo: aLearningObject({ state: 'draft' }) }), { userId: 1001, actor: 'learner' }, at),
      /published/,
    );
    assert.throws(
      () => enroll(courseState({ instance: anInstance({ state: 'suspended' }) }), { userId: 1001, actor: 'learner' }, at),
      /active/,
    );
    assert.throws(() => complete(courseState(), { userId: 1001, actor: 'learner', progressDelay: noDelay }, at, random), /not enrolled/);
  });
});
