// Record a learner's progress in a course: LEARNER_PROGRESS after the aggregation delay (and the parent's, inside a path).
import type { ProducerContext } from '../context.ts';
import type { Enrollment } from './domain.ts';
import * as rules from './rules/enrollments.ts';
import { type EnrollmentRequest, runEnrollmentAction } from './run-enrollment-action.ts';

export function recordProgress(
  context: ProducerContext,
  accountId: number,
  request: EnrollmentRequest & { progressPercent: number },
): Promise<Enrollment> {
  const { progressDelay } = context.settings;
  return runEnrollmentAction(context, accountId, 'progress', request, (state, now, random) =>
    rules.recordProgress(state, { ...request, progressDelay }, now, random),
  );
}
