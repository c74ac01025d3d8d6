// LEARNER_PROGRESS (SPEC §2.1): aggregated, so held back by a random delay within the configured range.
import type { DurationRange } from '../../config.ts';
import type { Enrollment } from '../domain.ts';
import type { ScheduledDraft } from './outcome.ts';

/** A small seeded PRNG (mulberry32): the same seed gives the same delays, so a run can be repeated. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A delay drawn uniformly within the range, in whole milliseconds. */
export function progressDelayMs(range: DurationRange, random: () => number): number {
  return range.minMs + Math.floor(random() * (range.maxMs - range.minMs + 1));
}

/** The progress event of an enrollment, due after its delay but stamped with the time the progress happened. */
export function learnerProgress(
  enrollment: Pick<Enrollment, 'userId' | 'loId' | 'loType' | 'loInstanceId' | 'dateStarted' | 'progressPercent'>,
  now: number,
  delay: DurationRange,
  random: () => number,
): ScheduledDraft {
  return {
    eventName: 'LEARNER_PROGRESS',
    data: {
      loId: enrollment.loId,
      loType: enrollment.loType,
      userId: enrollment.userId,
      loInstanceId: enrollment.loInstanceId,
      dateStarted: new Date(enrollment.dateStarted ?? now).toISOString(),
      progressPercent: enrollment.progressPercent,
    },
    timestamp: now,
    dueAt: now + progressDelayMs(delay, random),
  };
}
