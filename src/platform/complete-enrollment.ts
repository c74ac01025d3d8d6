// Complete an enrollment (SPEC §2.1); inside a learning path or certification, two delayed LEARNER_PROGRESS instead.
import type { ProducerContext } from '../context.ts';
import type { Enrollment } from './domain.ts';
import * as rules from './rules/enrollments.ts';
import { type EnrollmentRequest, runEnrollmentAction } from './run-enrollment-action.ts';

export function completeEnrollment(
  context: ProducerContext,
  accountId: number,
  request: EnrollmentRequest & { hasPassed?: boolean },
): Promise<Enrollment> {
  const { progressDelay } = context.settings;
  return runEnrollmentAction(context, accountId, 'complete', request, (state, now, random) =>
    rules.complete(state, { ...request, progressDelay }, now, random),
  );
}
