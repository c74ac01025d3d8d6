// The comparison's events: valid catalog events of ~540 bytes whose eventInfo carries the bench account, the event's
// number within the account and the publish time, so the receiver needs no shared state with the publisher.
import { randomUUID } from 'node:crypto';
import type { CatalogEvent } from '../../src/catalog/schemas.ts';

/** The event name every contender sends and every learnhook webhook subscribes to. */
export const benchEventName = 'COURSE_ENROLLMENT';
/** The size the issue names: an enrollment with its trace string comes to about this many bytes of JSON. */
export const eventBytes = 540;

/** Milliseconds since the epoch with microseconds, comparable between processes of one machine. */
export function wallClock(): number {
  return performance.timeOrigin + performance.now();
}

export interface Trace {
  account: number;
  n: number;
  publishedAt: number;
}

const prefix = 'bench';

/** One enrollment of learner `n` of bench account `account`, published at `publishedAt`. */
export function benchEvent(account: number, n: number, publishedAt: number): CatalogEvent {
  const timestamp = new Date(publishedAt).toISOString();
  const event: CatalogEvent = {
    eventId: randomUUID(),
    eventName: benchEventName,
    timestamp,
    eventInfo: `${prefix}:${account}:${n}:${publishedAt.toFixed(3)}:`,
    data: {
      userId: 10_000_000 + n,
      loId: 'course:12345678',
      loInstanceId: 'course:12345678_14450088',
      loType: 'course',
      enrollmentSource: 'SELF_ENROLL',
      dateEnrolled: timestamp,
    },
  };
  // The trace is padded (eventInfo is opaque to every party) so the event has the size of the issue's workload.
  const missing = eventBytes - JSON.stringify(event).length;
  if (missing > 0) event.eventInfo += 'x'.repeat(missing);
  return event;
}

/** The trace of a bench event, or undefined for anything else. */
export function traceOf(eventInfo: string): Trace | undefined {
  const [tag, account, n, publishedAt] = eventInfo.split(':', 4);
  if (tag !== prefix || account === undefined || n === undefined || publishedAt === undefined) return undefined;
  return { account: Number(account), n: Number(n), publishedAt: Number(publishedAt) };
}

/** The bursts of the throughput run: round r publishes events r*size … r*size+size-1 of every account. */
export interface Workload {
  accounts: number;
  eventsPerAccount: number;
  burst: number;
}

export const issueWorkload: Workload = { accounts: 100, eventsPerAccount: 500, burst: 10 };
