// Rules of learning-object instances (SPEC §2.1): create, change, suspend, retire, and delete (self-paced course instances only).
import type { Instance, InstanceState, LearningObject, Via } from '../domain.ts';
import { ciStats } from './ci-stats.ts';
import { instanceEvent } from './learning-objects.ts';
import { invalid, outcome, type RuleOutcome, refuse } from './outcome.ts';

export interface InstanceSettings {
  name?: string;
  seatLimit?: number | null;
  waitlistLimit?: number | null;
  selfPaced?: boolean;
  enrollmentDeadline?: number | null;
  /** `suspended` suspends the instance, `active` resumes it. */
  state?: 'active' | 'suspended';
}

export interface InstanceChanges {
  instance: { state: InstanceState; seatLimit: number | null; waitlistLimit: number | null };
}

function modificationName(via: Via): string {
  return via === 'migration' ? 'LEARNING_OBJECT_INSTANCE_MODIFICATION_BATCH' : 'LEARNING_OBJECT_INSTANCE_MODIFICATION';
}

function checkLimits(seatLimit: number | null, waitlistLimit: number | null): void {
  if (waitlistLimit !== null && waitlistLimit > 0 && seatLimit === null) invalid('a waitlist needs a seat limit; set seatLimit too');
}

/** "Created … → LEARNING_OBJECT_INSTANCE_MODIFICATION (instances have no draft state)"; "Migration create → …_MODIFICATION_BATCH". */
export function createInstance(
  lo: LearningObject,
  instance: Pick<Instance, 'id' | 'loId'>,
  settings: InstanceSettings,
  via: Via,
): RuleOutcome<InstanceChanges> {
  if (lo.loType === 'jobAid') invalid(`${lo.id} is a job aid; job aids have no instances`);
  if (lo.state === 'deleted' || lo.state === 'retired') refuse(`${lo.id} is ${lo.state}; it takes no new instances`);
  const seatLimit = settings.seatLimit ?? null;
  const waitlistLimit = settings.waitlistLimit ?? null;
  checkLimits(seatLimit, waitlistLimit);
  if (settings.selfPaced && lo.loType !== 'course') invalid('only course instances are self-paced');
  return outcome(
    { instance: { state: settings.state ?? 'active', seatLimit, waitlistLimit } },
    instanceEvent(modificationName(via), instance, lo.loType),
  );
}

/**
 * "Changed … → LEARNING_OBJECT_INSTANCE_MODIFICATION"; "Suspending an instance is also a modification";
 * a changed seat or waitlist limit of a course instance also changes its availability: CI_STATS.
 */
export function updateInstance(lo: LearningObject, instance: Instance, settings: InstanceSettings, via: Via): RuleOutcome<InstanceChanges> {
  if (instance.state === 'deleted') refuse(`${instance.id} is deleted`);
  if (instance.state === 'retired') refuse(`${instance.id} is retired; a retired instance cannot be changed`);
  const seatLimit = settings.seatLimit === undefined ? instance.seatLimit : settings.seatLimit;
  const waitlistLimit = settings.waitlistLimit === undefined ? instance.waitlistLimit : settings.waitlistLimit;
  checkLimits(seatLimit, waitlistLimit);
  if (seatLimit !== null && seatLimit < instance.enrollmentCount)
    refuse(`${instance.id} has ${instance.enrollmentCount} enrolled learners; the seat limit cannot go below that`);
  if (waitlistLimit !== null && waitlistLimit < instance.waitlistCount)
    refuse(`${instance.id} has ${instance.waitlistCount} waitlisted learners; the waitlist limit cannot go below that`);
  if (settings.selfPaced && lo.loType !== 'course') invalid('only course instances are self-paced');
  const limitsChanged = seatLimit !== instance.seatLimit || waitlistLimit !== instance.waitlistLimit;
  const events = [
    ...instanceEvent(modificationName(via), instance, lo.loType),
    ...(limitsChanged ? ciStats({ ...instance, seatLimit }, lo.loType) : []),
  ];
  return outcome({ instance: { state: settings.state ?? instance.state, seatLimit, waitlistLimit } }, events);
}

/** "Retired → LEARNING_OBJECT_INSTANCE_MODIFICATION". */
export function retireInstance(lo: LearningObject, instance: Instance): RuleOutcome<InstanceChanges> {
  if (instance.state === 'deleted') refuse(`${instance.id} is deleted`);
  if (instance.state === 'retired') refuse(`${instance.id} is retired already`);
  return outcome(
    { instance: { state: 'retired', seatLimit: instance.seatLimit, waitlistLimit: instance.waitlistLimit } },
    instanceEvent('LEARNING_OBJECT_INSTANCE_MODIFICATION', instance, lo.loType),
  );
}

/**
 * "Deleted → LEARNING_OBJECT_INSTANCE_DELETION, only for course instances whose modules are self-paced; other
 * instances … cannot be deleted, only retired."
 */
export function deleteInstance(lo: LearningObject, instance: Instance): RuleOutcome<InstanceChanges> {
  if (instance.state === 'deleted') refuse(`${instance.id} is deleted already`);
  if (lo.loType !== 'course')
    refuse(`${instance.id} is a ${lo.loType} instance; only self-paced course instances can be deleted — retire it instead`);
  if (!instance.selfPaced) refuse(`${instance.id} is not self-paced; only self-paced course instances can be deleted — retire it instead`);
  return outcome(
    { instance: { state: 'deleted', seatLimit: instance.seatLimit, waitlistLimit: instance.waitlistLimit } },
    instanceEvent('LEARNING_OBJECT_INSTANCE_DELETION', instance, lo.loType),
  );
}
