// Rules of enrollment, unenrollment, completion and progress (SPEC §2.1): real-time for the learner, _BATCH for everyone else,
// events for a learning path or certification only, never for the courses enrolled through it; seats, waitlist and CI_STATS.

import { enrollmentEventName, type LoType } from '../../catalog/index.ts';
import type { DurationRange } from '../../config.ts';
import type { Actor, Enrollment, Instance, LearningObject } from '../domain.ts';
import { ciStats } from './ci-stats.ts';
import { type EventDraft, invalid, outcome, type RuleOutcome, refuse, type ScheduledDraft } from './outcome.ts';
import { learnerProgress } from './progress.ts';

const enrollmentSources: Record<Actor, string> = {
  learner: 'SELF_ENROLL',
  admin: 'ADMIN_ENROLL',
  manager: 'MANAGER_ENROLL',
  platform: 'AUTO_ENROLL',
};

/** A course of a learning program or certification, its default instance, and the learner's enrollment there. */
export interface ChildCourse {
  course: LearningObject;
  instance: Instance | null;
  enrollment: Enrollment | null;
}

export interface EnrollmentState {
  lo: LearningObject;
  instance: Instance;
  /** The learner's enrollment in this instance, in any state, or null. */
  enrollment: Enrollment | null;
  /** For a learning program or certification: its courses. */
  children: ChildCourse[];
  /** For a course enrolled through a parent: the parent's enrollment and its courses. */
  parent: { lo: LearningObject; enrollment: Enrollment; children: ChildCourse[] } | null;
}

export interface EnrollmentChanges {
  /** Enrollment rows to write (inserted or replaced by userId + loInstanceId). */
  enrollments: Enrollment[];
  /** The instance's new counts, when they changed. */
  counts: Pick<Instance, 'enrollmentCount' | 'waitlistCount'> | null;
}

export interface EnrollmentAction {
  userId: number;
  actor: Actor;
}

function eventClass(actor: Actor) {
  return actor === 'learner' ? 'realtime' : 'batch';
}

function enrollableType(lo: LearningObject): LoType {
  if (lo.loType === 'jobAid') invalid(`${lo.id} is a job aid; job aids take no enrollments`);
  return lo.loType;
}

function core(enrollment: Enrollment) {
  return {
    userId: enrollment.userId,
    loId: enrollment.loId,
    loInstanceId: enrollment.loInstanceId,
    loType: enrollment.loType,
    enrollmentSource: enrollment.enrollmentSource,
  };
}

function enrollmentEvent(enrollment: Enrollment, actor: Actor): EventDraft {
  return {
    eventName: enrollmentEventName('enrollment', enrollment.loType, eventClass(actor)),
    data: { ...core(enrollment), dateEnrolled: new Date(enrollment.dateEnrolled).toISOString() },
  };
}

function completionEvent(enrollment: Enrollment, actor: Actor): EventDraft {
  const data: Record<string, unknown> = { ...core(enrollment), dateCompleted: new Date(enrollment.dateCompleted ?? 0).toISOString() };
  // Every completion carries hasPassed, certifications too: SPEC §5 reads its absence in the guide's samples as a typo.
  data.hasPassed = enrollment.hasPassed ?? true;
  return { eventName: enrollmentEventName('completion', enrollment.loType, eventClass(actor)), data };
}

/** A learning program's progress: the mean of its courses' progress (a completed course counts 100). */
export function parentPercent(children: readonly ChildCourse[]): number {
  if (children.length === 0) return 0;
  const sum = children.reduce((total, child) => {
    const enrollment = child.enrollment;
    if (!enrollment || enrollment.state === 'UNENROLLED') return total;
    return total + (enrollment.state === 'COMPLETED' ? 100 : enrollment.progressPercent);
  }, 0);
  return Math.floor(sum / children.length);
}

function active(enrollment: Enrollment | null): enrollment is Enrollment {
  return enrollment !== null && enrollment.state !== 'UNENROLLED';
}

/**
 * "The learner acts (self-enroll) → real-time *_ENROLLMENT"; "An administrator, manager or the platform acts → the *_BATCH variant";
 * "When a course is enrolled through a parent learning path or certification, … events are emitted only for the parent".
 * A course instance with a seat limit enrolls while seats remain, then waitlists up to its waitlist limit, then refuses;
 * every change of its counts emits CI_STATS. Courses enrolled through a parent take no seat of their instance.
 */
export function enroll(state: EnrollmentState, action: EnrollmentAction, now: number): RuleOutcome<EnrollmentChanges> {
  const { lo, instance, enrollment } = state;
  const loType = enrollableType(lo);
  if (lo.state !== 'published') refuse(`${lo.id} is ${lo.state}; learners enroll only in published learning objects`);
  if (instance.state !== 'active') refuse(`${instance.id} is ${instance.state}; learners enroll only in active instances`);
  if (instance.enrollmentDeadline !== null && now > instance.enrollmentDeadline)
    refuse(`the enrollment deadline of ${instance.id} has passed`, 'enrollment_closed');
  if (active(enrollment))
    refuse(`user ${action.userId} is ${enrollment.state.toLowerCase()} in ${instance.id} already`, 'already_enrolled');
  const source = enrollmentSources[action.actor];
  const fresh: Enrollment = {
    accountId: instance.accountId,
    userId: action.userId,
    loInstanceId: instance.id,
    loId: lo.id,
    loType,
    enrollmentSource: source,
    state: 'ENROLLED',
    parentInstanceId: null,
    progressPercent: 0,
    hasPassed: null,
    dateEnrolled: now,
    dateStarted: null,
    dateCompleted: null,
    updatedAt: now,
  };
  if (loType === 'course') {
    const seatsLeft = instance.seatLimit === null || instance.enrollmentCount < instance.seatLimit;
    if (seatsLeft) {
      const counts = { enrollmentCount: instance.enrollmentCount + 1, waitlistCount: instance.waitlistCount };
      return outcome({ enrollments: [fresh], counts }, [
        enrollmentEvent(fresh, action.actor),
        ...ciStats({ ...instance, ...counts }, loType),
      ]);
    }
    if (instance.waitlistCount < (instance.waitlistLimit ?? 0)) {
      const counts = { enrollmentCount: instance.enrollmentCount, waitlistCount: instance.waitlistCount + 1 };
      return outcome({ enrollments: [{ ...fresh, state: 'WAITLISTED' }], counts }, ciStats({ ...instance, ...counts }, loType));
    }
    refuse(
      `${instance.id} is full: ${instance.enrollmentCount} of ${instance.seatLimit} seats taken and the waitlist is full`,
      'instance_full',
    );
  }
  const children: Enrollment[] = [];
  for (const child of state.children) {
    if (active(child.enrollment)) continue;
    if (child.instance?.state !== 'active' || child.course.state !== 'published')
      refuse(
        `course ${child.course.id} of ${lo.id} has no active default instance of a published course to enroll in`,
        'child_not_enrollable',
      );
    children.push({ ...fresh, loInstanceId: child.instance.id, loId: child.course.id, loType: 'course', parentInstanceId: instance.id });
  }
  return outcome({ enrollments: [fresh, ...children], counts: null }, [enrollmentEvent(fresh, action.actor)]);
}

/** "The learner acts (self-unenroll) → real-time *_UNENROLLMENT", others `_BATCH`; a parent's courses leave with it, silently. */
export function unenroll(state: EnrollmentState, action: EnrollmentAction, now: number): RuleOutcome<EnrollmentChanges> {
  const { lo, instance, enrollment } = state;
  const loType = enrollableType(lo);
  if (!active(enrollment)) refuse(`user ${action.userId} is not enrolled in ${instance.id}`, 'not_enrolled');
  if (enrollment.state === 'COMPLETED')
    refuse(`user ${action.userId} has completed ${instance.id}; a completion is not undone by unenrolling`);
  if (enrollment.parentInstanceId !== null)
    refuse(
      `user ${action.userId} is enrolled in ${instance.id} through ${enrollment.parentInstanceId}; unenroll from that instead`,
      'enrolled_through_parent',
    );
  // The record ends with the unenrollment event: a later enrollment starts from 0 %, as a consumer of the events sees it.
  const gone: Enrollment = { ...enrollment, state: 'UNENROLLED', progressPercent: 0, updatedAt: now };
  const events: EventDraft[] = [];
  if (enrollment.state === 'ENROLLED')
    events.push({ eventName: enrollmentEventName('unenrollment', loType, eventClass(action.actor)), data: core(enrollment) });
  if (loType === 'course') {
    const waitlisted = enrollment.state === 'WAITLISTED';
    const counts = {
      enrollmentCount: instance.enrollmentCount - (waitlisted ? 0 : 1),
      waitlistCount: instance.waitlistCount - (waitlisted ? 1 : 0),
    };
    return outcome({ enrollments: [gone], counts }, [...events, ...ciStats({ ...instance, ...counts }, loType)]);
  }
  const children = state.children
    .map((child) => child.enrollment)
    .filter((child): child is Enrollment => child?.parentInstanceId === instance.id && child.state === 'ENROLLED')
    .map((child) => ({ ...child, state: 'UNENROLLED' as const, updatedAt: now }));
  return outcome({ enrollments: [gone, ...children], counts: null }, events);
}

export interface CompleteAction extends EnrollmentAction {
  hasPassed?: boolean;
  progressDelay: DurationRange;
}

/**
 * "The learner completes → real-time *_COMPLETED", others `_BATCH`. A course completed inside a learning path emits no
 * completion of its own but "two progress events: one for the course and one for the learning path"; the path
 * completes when all its courses have.
 */
export function complete(
  state: EnrollmentState,
  action: CompleteAction,
  now: number,
  random: () => number,
): RuleOutcome<EnrollmentChanges> {
  const { instance, enrollment } = state;
  enrollableType(state.lo);
  if (!active(enrollment) || enrollment.state !== 'ENROLLED') {
    refuse(
      `user ${action.userId} cannot complete ${instance.id}: ${enrollment ? enrollment.state.toLowerCase() : 'not enrolled'}`,
      'not_enrolled',
    );
  }
  const done: Enrollment = {
    ...enrollment,
    state: 'COMPLETED',
    progressPercent: 100,
    hasPassed: action.hasPassed ?? true,
    dateStarted: enrollment.dateStarted ?? now,
    dateCompleted: now,
    updatedAt: now,
  };
  if (enrollment.parentInstanceId === null || !state.parent) {
    return outcome({ enrollments: [done], counts: null }, [completionEvent(done, action.actor)]);
  }
  const parent = state.parent;
  const siblings = parent.children.map((child) =>
    child.enrollment?.loInstanceId === done.loInstanceId ? { ...child, enrollment: done } : child,
  );
  const allDone = siblings.every((child) => child.enrollment?.state === 'COMPLETED');
  const parentEnrollment: Enrollment = {
    ...parent.enrollment,
    progressPercent: allDone ? 100 : parentPercent(siblings),
    dateStarted: parent.enrollment.dateStarted ?? now,
    updatedAt: now,
    ...(allDone && parent.enrollment.state === 'ENROLLED' ? { state: 'COMPLETED' as const, hasPassed: true, dateCompleted: now } : {}),
  };
  const scheduled: ScheduledDraft[] = [
    learnerProgress(done, now, action.progressDelay, random),
    learnerProgress(parentEnrollment, now, action.progressDelay, random),
  ];
  const events =
    parentEnrollment.state === 'COMPLETED' && parent.enrollment.state !== 'COMPLETED'
      ? [completionEvent(parentEnrollment, action.actor)]
      : [];
  return outcome({ enrollments: [done, parentEnrollment], counts: null }, events, scheduled);
}

export interface ProgressAction extends EnrollmentAction {
  progressPercent: number;
  progressDelay: DurationRange;
}

/**
 * "Tracked once a learner is enrolled and starts a module: LEARNER_PROGRESS", "delayed by up to 15 minutes"; a course inside
 * a learning path reports the path's progress too.
 */
export function recordProgress(
  state: EnrollmentState,
  action: ProgressAction,
  now: number,
  random: () => number,
): RuleOutcome<EnrollmentChanges> {
  const { lo, instance, enrollment } = state;
  if (lo.loType !== 'course') invalid(`progress is recorded on courses; the progress of ${lo.id} follows from its courses`);
  if (!active(enrollment) || enrollment.state !== 'ENROLLED') {
    refuse(
      `user ${action.userId} has no progress to record in ${instance.id}: ${enrollment ? enrollment.state.toLowerCase() : 'not enrolled'}`,
      'not_enrolled',
    );
  }
  const moved: Enrollment = {
    ...enrollment,
    progressPercent: action.progressPercent,
    dateStarted: enrollment.dateStarted ?? now,
    updatedAt: now,
  };
  const scheduled = [learnerProgress(moved, now, action.progressDelay, random)];
  const enrollments = [moved];
  if (enrollment.parentInstanceId !== null && state.parent) {
    const siblings = state.parent.children.map((child) =>
      child.enrollment?.loInstanceId === moved.loInstanceId ? { ...child, enrollment: moved } : child,
    );
    const parentEnrollment: Enrollment = {
      ...state.parent.enrollment,
      progressPercent: parentPercent(siblings),
      dateStarted: state.parent.enrollment.dateStarted ?? now,
      updatedAt: now,
    };
    enrollments.push(parentEnrollment);
    scheduled.push(learnerProgress(parentEnrollment, now, action.progressDelay, random));
  }
  return outcome({ enrollments, counts: null }, [], scheduled);
}
