// Unenroll a learner (SPEC §2.1): real-time for the learner, _BATCH otherwise; a parent's courses leave with it, silently.
import type { ProducerContext } from '../context.ts';
import type { Enrollment } from './domain.ts';
import * as rules from './rules/enrollments.ts';
import { type EnrollmentRequest, runEnrollmentAction } from './run-enrollment-action.ts';

export function unenroll(context: ProducerContext, accountId: number, request: EnrollmentRequest): Promise<Enrollment> {
  return runEnrollmentAction(context, accountId, 'unenroll', request, (state, now) => rules.unenroll(state, request, now));
}
