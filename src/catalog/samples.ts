// One valid sample of each catalog event, taken from the guide's samples with its typos fixed (SPEC §5).
import { eventDefinitions, type LoType } from './events.ts';
import type { CatalogEvent, Envelope } from './schemas.ts';

const sampleTime = '2024-11-08T03:49:52.000Z';

// Ids of the guide's samples, made consistent: each loInstanceId belongs to its loId.
const sampleIds: Record<LoType, { loId: string; loInstanceId: string; userId: number }> = {
  course: { loId: 'course:12345678', loInstanceId: 'course:12345678_14450088', userId: 12345678 },
  learningProgram: { loId: 'learningProgram:123157', loInstanceId: 'learningProgram:123157_109139', userId: 12311591 },
  certification: { loId: 'certification:123418', loInstanceId: 'certification:123418_160299', userId: 123456728 },
};

function sampleData(name: string): Record<string, unknown> {
  const definition = eventDefinitions.find((candidate) => candidate.name === name);
  if (!definition) throw new Error(`no catalog event named ${name}`);
  const loType = definition.loType ?? 'course';
  const ids = sampleIds[loType];
  const enrollmentSource = definition.class === 'realtime' ? 'SELF_ENROLL' : 'ADMIN_ENROLL';
  const core = { userId: ids.userId, loId: ids.loId, loInstanceId: ids.loInstanceId, loType, enrollmentSource };
  switch (definition.family) {
    case 'ciStats':
      return { loInstanceId: 'course:12345678_14448475', waitlistCount: 0, enrollmentCount: 10, seatLimit: 30 };
    case 'enrollment':
      return { ...core, dateEnrolled: sampleTime };
    case 'completion':
      return { ...core, dateCompleted: sampleTime, hasPassed: true };
    case 'unenrollment':
      return core;
    case 'progress':
      return {
        loId: 'course:7542090',
        loType: 'course',
        userId: 12380928,
        loInstanceId: 'course:7542090_10423047',
        dateStarted: sampleTime,
        progressPercent: 50,
      };
    case 'learningObject':
      return name === 'LEARNING_OBJECT_DRAFT'
        ? { loId: 'course:1234091', loType: 'course' }
        : { loId: 'learningProgram:123836', loType: 'learningProgram' };
    case 'loInstance':
      return { loInstanceId: 'course:12324298_14453691', loId: 'course:12324298', loType: 'course' };
  }
}

/** A valid sample event of the given name; `eventId` is stable per name so samples are reproducible. */
export function sampleEvent(name: string): CatalogEvent {
  const index = eventDefinitions.findIndex((definition) => definition.name === name);
  return {
    eventId: `00000000-0000-4000-8000-${String(index + 1).padStart(12, '0')}`,
    eventName: name as CatalogEvent['eventName'],
    timestamp: sampleTime,
    eventInfo: `sample-${name.toLowerCase()}`,
    data: sampleData(name),
  };
}

/** The envelope of one sample event, as a webhook receives it. */
export function sampleEnvelope(name: string, accountId = 1234): Envelope {
  return { accountId, events: [sampleEvent(name)] };
}
