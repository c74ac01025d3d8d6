// CI_STATS (SPEC §2.1): a course instance's seat and waitlist counts after they change; never for paths or certifications.
import type { Instance, LoKind } from '../domain.ts';
import type { EventDraft } from './outcome.ts';

/** The counts after a change; an instance without a seat limit reports `seatLimit: 0` (no limit). */
export function ciStats(instance: Pick<Instance, 'id' | 'seatLimit' | 'enrollmentCount' | 'waitlistCount'>, loType: LoKind): EventDraft[] {
  if (loType !== 'course') return [];
  return [
    {
      eventName: 'CI_STATS',
      data: {
        loInstanceId: instance.id,
        waitlistCount: instance.waitlistCount,
        enrollmentCount: instance.enrollmentCount,
        seatLimit: instance.seatLimit ?? 0,
      },
    },
  ];
}
