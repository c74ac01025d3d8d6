// One test per instance rule of SPEC §2.1, each named after the sentence it checks.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DomainError } from '../../errors.ts';
import { aLearningObject, anInstance } from './fixtures.ts';
import { createInstance, deleteInstance, retireInstance, updateInstance } from './instances.ts';

const names = (events: { eventName: string }[]) => events.map((event) => event.eventName);
const course = aLearningObject();
const path = aLearningObject({ id: 'learningProgram:1000002', loType: 'learningProgram' });

describe('instance rules', () => {
  test('"Created … → LEARNING_OBJECT_INSTANCE_MODIFICATION (instances have no draft state, so there is no instance draft event)"', () => {
    const decided = createInstance(course, { id: 'course:1000001_9', loId: course.id }, { name: 'Spring' }, 'ui');
    assert.deepEqual(decided.events, [
      { eventName: 'LEARNING_OBJECT_INSTANCE_MODIFICATION', data: { loInstanceId: 'course:1000001_9', loId: course.id, loType: 'course' } },
    ]);
    assert.equal(decided.changes.instance.state, 'active');
  });

  test('"Suspending an instance is also a modification"', () => {
    const decided = updateInstance(course, anInstance(), { state: 'suspended' }, 'ui');
    assert.deepEqual(names(decided.events), ['LEARNING_OBJECT_INSTANCE_MODIFICATION']);
    assert.equal(decided.changes.instance.state, 'suspended');
  });

  test('"CI_STATS … when seat (licence) or waitlist availability of a course instance changes": a new seat limit', () => {
    const decided = updateInstance(course, anInstance({ seatLimit: 10, enrollmentCount: 4 }), { seatLimit: 20 }, 'ui');
    assert.deepEqual(names(decided.events), ['LEARNING_OBJECT_INSTANCE_MODIFICATION', 'CI_STATS']);
    assert.deepEqual(decided.events[1]?.data, {
      loInstanceId: 'course:1000001_1000001',
      waitlistCount: 0,
      enrollmentCount: 4,
      seatLimit: 20,
    });
    const pathDecided = updateInstance(path, anInstance({ loId: path.id, seatLimit: 10 }), { seatLimit: 20 }, 'ui');
    assert.deepEqual(names(pathDecided.events), ['LEARNING_OBJECT_INSTANCE_MODIFICATION'], 'never for learning paths');
  });

  test('"Retired → LEARNING_OBJECT_INSTANCE_MODIFICATION"', () => {
    const decided = retireInstance(course, anInstance());
    assert.deepEqual(names(decided.events), ['LEARNING_OBJECT_INSTANCE_MODIFICATION']);
    assert.equal(decided.changes.instance.state, 'retired');
  });

  test('"Deleted → LEARNING_OBJECT_INSTANCE_DELETION, only for course instances whose modules are self-paced"', () => {
    const decided = deleteInstance(course, anInstance({ selfPaced: true }));
    assert.deepEqual(decided.events, [
      {
        eventName: 'LEARNING_OBJECT_INSTANCE_DELETION',
        data: { loInstanceId: 'course:1000001_1000001', loId: course.id, loType: 'course' },
      },
    ]);
  });

  test('"other instances (other module types, learning-path and certification instances) cannot be deleted, only retired"', () => {
    const isConflict = (error: unknown) =>
      error instanceof DomainError && error.kind === 'conflict' && /retire it instead/.test(error.message);
    assert.throws(() => deleteInstance(course, anInstance({ selfPaced: false })), isConflict);
    assert.throws(() => deleteInstance(path, anInstance({ loId: path.id })), isConflict);
    const certification = aLearningObject({ id: 'certification:1000003', loType: 'certification' });
    assert.throws(() => deleteInstance(certification, anInstance({ loId: certification.id })), isConflict);
  });

  test('"Migration create/change → LEARNING_OBJECT_INSTANCE_MODIFICATION_BATCH"', () => {
    assert.deepEqual(names(createInstance(course, anInstance(), { name: 'x' }, 'migration').events), [
      'LEARNING_OBJECT_INSTANCE_MODIFICATION_BATCH',
    ]);
    assert.deepEqual(names(updateInstance(course, anInstance(), { name: 'y' }, 'migration').events), [
      'LEARNING_OBJECT_INSTANCE_MODIFICATION_BATCH',
    ]);
  });

  test('certifications "have no instance concept in the LO-instance events": their instances change silently', () => {
    const certification = aLearningObject({ id: 'certification:1000003', loType: 'certification' });
    assert.deepEqual(createInstance(certification, anInstance({ loId: certification.id }), { name: 'c' }, 'ui').events, []);
  });

  test('a seat limit below the enrolled learners, a waitlist without seats, and instances of job aids are refused', () => {
    assert.throws(() => updateInstance(course, anInstance({ seatLimit: 10, enrollmentCount: 5 }), { seatLimit: 4 }, 'ui'), DomainError);
    assert.throws(() => createInstance(course, anInstance(), { name: 'w', waitlistLimit: 3 }, 'ui'), DomainError);
    const jobAid = aLearningObject({ id: 'jobAid:4', loType: 'jobAid' });
    assert.throws(() => createInstance(jobAid, anInstance({ loId: jobAid.id }), { name: 'j' }, 'ui'), DomainError);
  });
});
