// Enroll a learner (SPEC §2.1): real-time for the learner, _BATCH otherwise; seats, waitlist and CI_STATS; parents enroll their courses silently.
import type { ProducerContext } from '../context.ts';
import type { Enrollment } from './domain.ts';
import * as rules from './rules/enrollments.ts';
import { type EnrollmentRequest, runEnrollmentAction } from './run-enrollment-action.ts';

export function enroll(context: ProducerContext, accountId: number, request: EnrollmentRequest): Promise<Enrollment> {
  return runEnrollmentAction(context, accountId, 'enroll', request, (state, now) => rules.enroll(state, request, now));
}
