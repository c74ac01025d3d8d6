// The account's enrollments, filtered and paged, as the read API and the end-to-end mirror test compare them.
import type { ProducerContext } from '../context.ts';
import { type Enrollment, type EnrollmentState, toEnrollment } from './domain.ts';

export interface EnrollmentFilter {
  userId?: number;
  loInstanceId?: string;
  loId?: string;
  loType?: string;
  state?: EnrollmentState;
  /** Rows after this offset (the page cursor). */
  offset: number;
  limit: number;
}

/** A page of the account's enrollments in (userId, loInstanceId) order. */
export async function listEnrollments(context: ProducerContext, accountId: number, filter: EnrollmentFilter): Promise<Enrollment[]> {
  let query = context.database.db
    .selectFrom('enrollments')
    .selectAll()
    .where('account_id', '=', accountId)
    .orderBy('user_id')
    .orderBy('lo_instance_id')
    .limit(filter.limit)
    .offset(filter.offset);
  if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
  if (filter.loInstanceId !== undefined) query = query.where('lo_instance_id', '=', filter.loInstanceId);
  if (filter.loId !== undefined) query = query.where('lo_id', '=', filter.loId);
  if (filter.loType !== undefined) query = query.where('lo_type', '=', filter.loType);
  if (filter.state !== undefined) query = query.where('state', '=', filter.state);
  return (await query.execute()).map(toEnrollment);
}
