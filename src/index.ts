// The learnhook package for people who write their own consumer: event types, signature check, tolerant parsing, the reducer.
export * from './catalog/index.ts';
export type {
  CiStatsData,
  CompletionData,
  EnrollmentData,
  EventDataByFamily,
  LearningObjectData,
  LoInstanceData,
  ProgressData,
  TypedEvent,
  UnenrollmentData,
} from './mirror/event-types.ts';
export { typedEvent } from './mirror/event-types.ts';
export type { MirrorEnvelope, MirrorEvent, ParsedEnvelope } from './mirror/parse-envelope.ts';
export { parseEnvelope, parseTimestamp } from './mirror/parse-envelope.ts';
export type {
  CiStatsRow,
  EnrollmentRow,
  EnrollmentStatus,
  LearningObjectRow,
  LoInstanceRow,
  Observation,
  ProgressMark,
  Reduction,
} from './mirror/reducer.ts';
export {
  emptyEnrollment,
  emptyLearningObject,
  emptyLoInstance,
  isEnrollmentEvent,
  progressFrontier,
  reduceCiStats,
  reduceEnrollment,
  reduceLearningObject,
  reduceLoInstance,
} from './mirror/reducer.ts';
export type { MirrorSchema } from './mirror/schema.ts';
export type { RunningMirror } from './mirror/start-mirror.ts';
export { startMirror } from './mirror/start-mirror.ts';
export type { Verification, VerifyOptions } from './mirror/verify.ts';
export { signature, verify } from './mirror/verify.ts';
