// Typed `data` of each event family, for consumers written in TypeScript: narrow an event by its family, then read fields.
import { type EventFamily, eventDefinition, type LoType } from '../catalog/index.ts';
import type { MirrorEvent } from './parse-envelope.ts';

interface EnrollmentCore {
  userId: number;
  loId: string;
  loInstanceId: string;
  loType: LoType;
  enrollmentSource: string;
}

export interface EnrollmentData extends EnrollmentCore {
  dateEnrolled: string;
}
export interface CompletionData extends EnrollmentCore {
  dateCompleted: string;
  /** Absent in the guide's certification samples. */
  hasPassed?: boolean;
}
export type UnenrollmentData = EnrollmentCore;
export interface ProgressData {
  loId: string;
  loType: LoType;
  userId: number;
  loInstanceId: string;
  dateStarted: string;
  progressPercent: number;
}
export interface LearningObjectData {
  loId: string;
  loType: LoType;
}
export interface LoInstanceData {
  loInstanceId: string;
  loId: string;
  loType: LoType;
}
export interface CiStatsData {
  loInstanceId: string;
  waitlistCount: number;
  enrollmentCount: number;
  seatLimit: number;
}

export interface EventDataByFamily {
  enrollment: EnrollmentData;
  completion: CompletionData;
  unenrollment: UnenrollmentData;
  progress: ProgressData;
  learningObject: LearningObjectData;
  loInstance: LoInstanceData;
  ciStats: CiStatsData;
}

/** An event whose `data` is typed by its family; checking `event.family` narrows `event.data`. */
export type TypedEvent<Family extends EventFamily = EventFamily> = Family extends EventFamily
  ? Omit<MirrorEvent, 'data'> & { family: Family; data: EventDataByFamily[Family] }
  : never;

/**
 * The event with its family attached, or undefined for a name outside the catalog. Only for events that
 * `parseEnvelope` accepted: it checked each catalog event's data against its schema.
 */
export function typedEvent(event: MirrorEvent): TypedEvent | undefined {
  const family = eventDefinition(event.eventName)?.family;
  return family ? ({ ...event, family } as unknown as TypedEvent) : undefined;
}
