// Domain objects for the rules' unit tests: a learning object, an instance and an enrollment with sensible defaults.
import type { Enrollment, Instance, LearningObject } from '../domain.ts';

export const at = Date.parse('2026-03-01T10:00:00.000Z');

export function aLearningObject(overrides: Partial<LearningObject> = {}): LearningObject {
  return {
    id: 'course:1000001',
    accountId: 1001,
    loType: 'course',
    name: 'Safety basics',
    description: '',
    state: 'published',
    children: [],
    duration: null,
    createdAt: at,
    publishedAt: at,
    updatedAt: at,
    ...overrides,
  };
}

export function anInstance(overrides: Partial<Instance> = {}): Instance {
  const loId = overrides.loId ?? 'course:1000001';
  return {
    id: `${loId}_1000001`,
    loId,
    accountId: 1001,
    name: 'Default',
    seatLimit: null,
    waitlistLimit: null,
    selfPaced: false,
    isDefault: true,
    state: 'active',
    enrollmentCount: 0,
    waitlistCount: 0,
    enrollmentDeadline: null,
    createdAt: at,
    updatedAt: at,
    ...overrides,
  };
}

export function anEnrollment(overrides: Partial<Enrollment> = {}): Enrollment {
  return {
    accountId: 1001,
    userId: 1001,
    loInstanceId: 'course:1000001_1000001',
    loId: 'course:1000001',
    loType: 'course',
    enrollmentSource: 'SELF_ENROLL',
    state: 'ENROLLED',
    parentInstanceId: null,
    progressPercent: 0,
    hasPassed: null,
    dateEnrolled: at,
    dateStarted: null,
    dateCompleted: null,
    updatedAt: at,
    ...overrides,
  };
}
