// Rules of learning objects (SPEC §2.1): draft, publish, later changes, retire (cascading to instances), delete, migration, job aids.
import type { Instance, LearningObject, LoKind, LoState, Via } from '../domain.ts';
import { type EventDraft, invalid, outcome, type RuleOutcome, refuse } from './outcome.ts';

export interface LearningObjectChanges {
  learningObject: { state: LoState; publishedAt?: number };
  /** Instances retired or deleted along with their learning object. */
  instances: { id: string; state: Instance['state'] }[];
}

function loEvent(eventName: string, lo: Pick<LearningObject, 'id' | 'loType'>): EventDraft {
  return { eventName, data: { loId: lo.id, loType: lo.loType } };
}

/** Instance events exist for courses and learning programs; certifications have no instance concept in them. */
export function hasInstanceEvents(loType: LoKind): boolean {
  return loType === 'course' || loType === 'learningProgram';
}

export function instanceEvent(eventName: string, instance: Pick<Instance, 'id' | 'loId'>, loType: LoKind): EventDraft[] {
  if (!hasInstanceEvents(loType)) return [];
  return [{ eventName, data: { loInstanceId: instance.id, loId: instance.loId, loType } }];
}

/** Job aids are learning objects but emit no LO events (SPEC §2.1). */
function silent(lo: Pick<LearningObject, 'loType'>, events: EventDraft[]): EventDraft[] {
  return lo.loType === 'jobAid' ? [] : events;
}

function refuseDeleted(lo: LearningObject, doing: string): void {
  if (lo.state === 'deleted') refuse(`${lo.id} is deleted; a deleted learning object cannot be ${doing}`);
}

/** Learning programs and certifications are made of courses; other types have no children. */
export function checkChildren(loType: LoKind, children: readonly string[]): void {
  if (loType !== 'learningProgram' && loType !== 'certification') {
    if (children.length > 0) invalid(`a ${loType} has no children; only learning programs and certifications do`);
    return;
  }
  for (const child of children) {
    if (!/^course:\d+$/.test(child)) invalid(`child "${child}" is not a course id; learning programs and certifications contain courses`);
  }
  if (new Set(children).size !== children.length) invalid('a course appears twice among the children');
}

/**
 * "Created through the UI → starts in draft. LEARNING_OBJECT_DRAFT" and "Created through the migration
 * workflow → LEARNING_OBJECT_MODIFICATION_BATCH": migrated content arrives published.
 */
export function createLearningObject(lo: Pick<LearningObject, 'id' | 'loType'>, via: Via, now: number): RuleOutcome<LearningObjectChanges> {
  if (via === 'migration') {
    return outcome(
      { learningObject: { state: 'published', publishedAt: now }, instances: [] },
      silent(lo, [loEvent('LEARNING_OBJECT_MODIFICATION_BATCH', lo)]),
    );
  }
  return outcome({ learningObject: { state: 'draft' }, instances: [] }, silent(lo, [loEvent('LEARNING_OBJECT_DRAFT', lo)]));
}

/** "Every later update of the draft emits it again"; after publishing "every later change emits [MODIFICATION] again". */
export function updateLearningObject(lo: LearningObject, via: Via): RuleOutcome<LearningObjectChanges> {
  refuseDeleted(lo, 'changed');
  const eventName =
    via === 'migration'
      ? 'LEARNING_OBJECT_MODIFICATION_BATCH'
      : lo.state === 'draft'
        ? 'LEARNING_OBJECT_DRAFT'
        : 'LEARNING_OBJECT_MODIFICATION';
  return outcome({ learningObject: { state: lo.state }, instances: [] }, silent(lo, [loEvent(eventName, lo)]));
}

/** "Published (draft → published) → LEARNING_OBJECT_MODIFICATION". */
export function publishLearningObject(lo: LearningObject, now: number): RuleOutcome<LearningObjectChanges> {
  refuseDeleted(lo, 'published');
  if (lo.state === 'published') refuse(`${lo.id} is published already`);
  if (lo.state === 'retired') refuse(`${lo.id} is retired; a retired learning object cannot be published again`);
  return outcome(
    { learningObject: { state: 'published', publishedAt: now }, instances: [] },
    silent(lo, [loEvent('LEARNING_OBJECT_MODIFICATION', lo)]),
  );
}

/** "Retired → LEARNING_OBJECT_MODIFICATION for the LO, and its instances are retired too, each emitting LEARNING_OBJECT_INSTANCE_MODIFICATION". */
export function retireLearningObject(lo: LearningObject, instances: readonly Instance[]): RuleOutcome<LearningObjectChanges> {
  refuseDeleted(lo, 'retired');
  if (lo.state === 'draft') refuse(`${lo.id} is a draft; publish it before retiring it`);
  if (lo.state === 'retired') refuse(`${lo.id} is retired already`);
  const retiring = instances.filter((instance) => instance.state === 'active' || instance.state === 'suspended');
  const events = [
    loEvent('LEARNING_OBJECT_MODIFICATION', lo),
    ...retiring.flatMap((instance) => instanceEvent('LEARNING_OBJECT_INSTANCE_MODIFICATION', instance, lo.loType)),
  ];
  return outcome(
    { learningObject: { state: 'retired' }, instances: retiring.map((instance) => ({ id: instance.id, state: 'retired' as const })) },
    silent(lo, events),
  );
}

/** "Deleted → LEARNING_OBJECT_DELETION"; its instances go with it, without events of their own. */
export function deleteLearningObject(lo: LearningObject, instances: readonly Instance[]): RuleOutcome<LearningObjectChanges> {
  refuseDeleted(lo, 'deleted again');
  const remaining = instances.filter((instance) => instance.state !== 'deleted');
  return outcome(
    { learningObject: { state: 'deleted' }, instances: remaining.map((instance) => ({ id: instance.id, state: 'deleted' as const })) },
    silent(lo, [loEvent('LEARNING_OBJECT_DELETION', lo)]),
  );
}
