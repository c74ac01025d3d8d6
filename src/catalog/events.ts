// The 27 event names of the guide, each with its class (real-time or batch) and the family its `data` belongs to.

export const loTypes = ['course', 'learningProgram', 'certification'] as const;
export type LoType = (typeof loTypes)[number];

/** Which `data` shape an event carries (SPEC §2.2). */
export type EventFamily = 'ciStats' | 'enrollment' | 'completion' | 'unenrollment' | 'progress' | 'learningObject' | 'loInstance';

export type EventClass = 'realtime' | 'batch';

export interface EventDefinition {
  name: string;
  class: EventClass;
  family: EventFamily;
  /** For enrollment, completion and unenrollment events: the LO type the name is for. */
  loType?: LoType;
  /** When the platform emits it, in one sentence (from SPEC §2.1). */
  description: string;
}

const enrollmentPrefixes = { course: 'COURSE', learningProgram: 'LEARNING_PATH', certification: 'CERTIFICATION' } as const;
const loTypeWords = { course: 'a course', learningProgram: 'a learning path', certification: 'a certification' } as const;

function enrollmentDefinitions(): EventDefinition[] {
  const definitions: EventDefinition[] = [];
  for (const loType of loTypes) {
    const prefix = enrollmentPrefixes[loType];
    const what = loTypeWords[loType];
    const actions = [
      { suffix: 'ENROLLMENT', family: 'enrollment', learner: `enrolls in ${what}`, other: `enrolls a learner in ${what}` },
      { suffix: 'COMPLETED', family: 'completion', learner: `completes ${what}`, other: `marks a learner's ${what.slice(2)} complete` },
      { suffix: 'UNENROLLMENT', family: 'unenrollment', learner: `unenrolls from ${what}`, other: `unenrolls a learner from ${what}` },
    ] as const;
    for (const action of actions) {
      definitions.push({
        name: `${prefix}_${action.suffix}`,
        class: 'realtime',
        family: action.family,
        loType,
        description: `The learner ${action.learner}.`,
      });
      definitions.push({
        name: `${prefix}_${action.suffix}_BATCH`,
        class: 'batch',
        family: action.family,
        loType,
        description: `An administrator, manager or the platform ${action.other}.`,
      });
    }
  }
  return definitions;
}

/** Every event of the catalog, in the guide's order within each class. */
export const eventDefinitions: readonly EventDefinition[] = [
  { name: 'CI_STATS', class: 'realtime', family: 'ciStats', description: 'Seat or waitlist availability of a course instance changed.' },
  ...enrollmentDefinitions(),
  {
    name: 'LEARNING_OBJECT_DRAFT',
    class: 'realtime',
    family: 'learningObject',
    description: 'A learning object was created in the UI as a draft, or a draft was updated.',
  },
  { name: 'LEARNING_OBJECT_DELETION', class: 'realtime', family: 'learningObject', description: 'A learning object was deleted.' },
  {
    name: 'LEARNING_OBJECT_MODIFICATION',
    class: 'realtime',
    family: 'learningObject',
    description: 'A learning object was published, changed after publishing, or retired.',
  },
  {
    name: 'LEARNING_OBJECT_INSTANCE_MODIFICATION',
    class: 'realtime',
    family: 'loInstance',
    description: 'An instance was created, changed, suspended or retired (also when its learning object is retired).',
  },
  {
    name: 'LEARNING_OBJECT_INSTANCE_DELETION',
    class: 'realtime',
    family: 'loInstance',
    description: 'A self-paced course instance was deleted.',
  },
  {
    name: 'LEARNER_PROGRESS',
    class: 'batch',
    family: 'progress',
    description: 'A learner progressed in a module; aggregated and delayed by up to 15 minutes.',
  },
  {
    name: 'LEARNING_OBJECT_MODIFICATION_BATCH',
    class: 'batch',
    family: 'learningObject',
    description: 'A learning object was created or changed by the migration workflow.',
  },
  {
    name: 'LEARNING_OBJECT_INSTANCE_MODIFICATION_BATCH',
    class: 'batch',
    family: 'loInstance',
    description: 'An instance was created or changed by the migration workflow.',
  },
];

export const eventNames: readonly string[] = eventDefinitions.map((definition) => definition.name);

const byName = new Map(eventDefinitions.map((definition) => [definition.name, definition]));

export function isEventName(name: string): boolean {
  return byName.has(name);
}

export function eventDefinition(name: string): EventDefinition | undefined {
  return byName.get(name);
}

/** The name of the enrollment-family event for an LO type, real-time for a learner and `_BATCH` otherwise. */
export function enrollmentEventName(family: 'enrollment' | 'completion' | 'unenrollment', loType: LoType, eventClass: EventClass): string {
  const suffix = { enrollment: 'ENROLLMENT', completion: 'COMPLETED', unenrollment: 'UNENROLLMENT' }[family];
  return `${enrollmentPrefixes[loType]}_${suffix}${eventClass === 'batch' ? '_BATCH' : ''}`;
}
