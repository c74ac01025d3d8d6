// A small platform simulator for tests and benchmarks: turns a list of actions into the events the platform emits.
import { type EventClass, enrollmentEventName, type LoType } from '../catalog/index.ts';
import type { CatalogEvent } from '../catalog/schemas.ts';
import type { EnrollmentStatus } from './reducer.ts';

export type HistoryActionKind =
  | 'enroll'
  | 'progress'
  | 'complete'
  | 'unenroll'
  | 'loDraft'
  | 'loPublish'
  | 'loModify'
  | 'loRetire'
  | 'loDelete'
  | 'instanceModify'
  | 'instanceDelete'
  | 'ciStats';

export interface HistoryAction {
  kind: HistoryActionKind;
  /** 1-based learner. */
  user: number;
  /** Index into the instances of the universe (or its LOs, for LO actions). */
  target: number;
  /** `_BATCH` variant (an admin acts) instead of real-time (the learner acts). */
  batch: boolean;
  percent: number;
  /** How late the event reaches the consumer (LEARNER_PROGRESS: up to 15 min). */
  delayMs: number;
}

interface UniverseInstance {
  loId: string;
  loType: LoType;
  loInstanceId: string;
}

/** The learning objects and instances every simulated history works on: courses, a learning program, a certification. */
export const universe: readonly UniverseInstance[] = [
  { loId: 'course:1001', loType: 'course', loInstanceId: 'course:1001_1' },
  { loId: 'course:1001', loType: 'course', loInstanceId: 'course:1001_2' },
  { loId: 'course:1002', loType: 'course', loInstanceId: 'course:1002_1' },
  { loId: 'learningProgram:2001', loType: 'learningProgram', loInstanceId: 'learningProgram:2001_1' },
  { loId: 'certification:3001', loType: 'certification', loInstanceId: 'certification:3001_1' },
];

const loIds = [...new Set(universe.map((instance) => instance.loId))];

export interface ModelEnrollment {
  status: EnrollmentStatus;
  progress: number;
}

export interface SimulatedHistory {
  /** In the order the platform emitted them (timestamps strictly increase). */
  events: CatalogEvent[];
  /** When each event reaches the consumer: its timestamp plus its delay. */
  arrivals: number[];
  /** The platform's own state at the end, per `userId/loInstanceId`. */
  enrollments: Map<string, ModelEnrollment>;
  /** Per LO id: the name of the last event it emitted, and whether it was deleted. */
  learningObjects: Map<string, { lastEventName: string; deleted: boolean }>;
}

/**
 * Plays the actions against a model of the platform, skipping those the platform would refuse (progress
 * without enrollment, completing twice, touching a deleted LO…), and returns the events it would emit.
 */
export function simulateHistory(actions: readonly HistoryAction[], start = Date.UTC(2026, 0, 5, 9)): SimulatedHistory {
  const events: CatalogEvent[] = [];
  const arrivals: number[] = [];
  const enrollments = new Map<string, ModelEnrollment>();
  const los = new Map<string, { state: 'Draft' | 'Published' | 'Retired'; deleted: boolean; lastEventName: string }>();
  const deletedInstances = new Set<string>();
  let time = start;
  const emit = (eventName: string, data: Record<string, unknown>, delayMs = 0) => {
    time += 1000;
    events.push({
      eventId: `evt-${String(events.length + 1).padStart(6, '0')}`,
      eventName: eventName as CatalogEvent['eventName'],
      timestamp: new Date(time).toISOString(),
      eventInfo: `sim-${events.length + 1}`,
      data,
    });
    arrivals.push(time + delayMs);
  };
  for (const action of actions) {
    const eventClass: EventClass = action.batch ? 'batch' : 'realtime';
    if (action.kind.startsWith('lo')) {
      const loId = loIds[action.target % loIds.length] as string;
      const loType = loId.split(':')[0] as LoType;
      const lo = los.get(loId);
      if (lo?.deleted) continue;
      const data = { loId, loType };
      const record = (eventName: string, state: 'Draft' | 'Published' | 'Retired', deleted = false) => {
        emit(eventName, data);
        los.set(loId, { state, deleted, lastEventName: eventName });
      };
      if (action.kind === 'loDraft' && (!lo || lo.state === 'Draft')) record('LEARNING_OBJECT_DRAFT', 'Draft');
      else if (action.kind === 'loPublish' && lo?.state === 'Draft') record('LEARNING_OBJECT_MODIFICATION', 'Published');
      else if (action.kind === 'loModify' && lo && lo.state !== 'Draft')
        record(action.batch ? 'LEARNING_OBJECT_MODIFICATION_BATCH' : 'LEARNING_OBJECT_MODIFICATION', lo.state);
      else if (action.kind === 'loRetire' && lo?.state === 'Published') {
        record('LEARNING_OBJECT_MODIFICATION', 'Retired');
        for (const instance of universe.filter((candidate) => candidate.loId === loId && candidate.loType !== 'certification')) {
          if (!deletedInstances.has(instance.loInstanceId))
            emit('LEARNING_OBJECT_INSTANCE_MODIFICATION', { loInstanceId: instance.loInstanceId, loId, loType });
        }
      } else if (action.kind === 'loDelete' && lo) record('LEARNING_OBJECT_DELETION', lo.state, true);
      continue;
    }
    const instance = universe[action.target % universe.length] as UniverseInstance;
    const { loId, loType, loInstanceId } = instance;
    if (action.kind === 'instanceModify' || action.kind === 'instanceDelete' || action.kind === 'ciStats') {
      if (loType === 'certification' || deletedInstances.has(loInstanceId)) continue;
      if (action.kind === 'ciStats') {
        if (loType === 'course')
          emit('CI_STATS', { loInstanceId, waitlistCount: action.percent % 7, enrollmentCount: action.percent, seatLimit: 100 });
        continue;
      }
      if (action.kind === 'instanceDelete') {
        if (loType !== 'course') continue;
        deletedInstances.add(loInstanceId);
        emit('LEARNING_OBJECT_INSTANCE_DELETION', { loInstanceId, loId, loType });
        continue;
      }
      emit(action.batch ? 'LEARNING_OBJECT_INSTANCE_MODIFICATION_BATCH' : 'LEARNING_OBJECT_INSTANCE_MODIFICATION', {
        loInstanceId,
        loId,
        loType,
      });
      continue;
    }
    const key = `${action.user}/${loInstanceId}`;
    const current = enrollments.get(key);
    const source = action.batch ? 'ADMIN_ENROLL' : 'SELF_ENROLL';
    const core = { userId: action.user, loId, loInstanceId, loType, enrollmentSource: source };
    switch (action.kind) {
      case 'enroll':
        if (current && current.status !== 'UNENROLLED') continue;
        emit(enrollmentEventName('enrollment', loType, eventClass), { ...core, dateEnrolled: new Date(time + 1000).toISOString() });
        enrollments.set(key, { status: 'ENROLLED', progress: 0 });
        break;
      case 'progress': {
        if (current?.status !== 'ENROLLED') continue;
        const percent = Math.max(current.progress, action.percent % 100);
        emit(
          'LEARNER_PROGRESS',
          { loId, loType, userId: action.user, loInstanceId, dateStarted: new Date(time).toISOString(), progressPercent: percent },
          action.delayMs,
        );
        current.progress = percent;
        break;
      }
      case 'complete':
        if (current?.status !== 'ENROLLED') continue;
        emit(enrollmentEventName('completion', loType, eventClass), {
          ...core,
          dateCompleted: new Date(time + 1000).toISOString(),
          ...(loType === 'certification' ? {} : { hasPassed: action.percent > 30 }),
        });
        enrollments.set(key, { status: 'COMPLETED', progress: 100 });
        break;
      case 'unenroll':
        if (!current || current.status === 'UNENROLLED') continue;
        emit(enrollmentEventName('unenrollment', loType, eventClass), core);
        enrollments.set(key, { status: 'UNENROLLED', progress: 0 });
        break;
    }
  }
  const learningObjects = new Map([...los].map(([loId, lo]) => [loId, { lastEventName: lo.lastEventName, deleted: lo.deleted }]));
  return { events, arrivals, enrollments, learningObjects };
}
