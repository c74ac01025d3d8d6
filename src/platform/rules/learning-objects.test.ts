// One test per learning-object rule of SPEC §2.1, each named after the sentence it checks.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DomainError } from '../../errors.ts';
import { aLearningObject, anInstance, at } from './fixtures.ts';
import {
  createLearningObject,
  deleteLearningObject,
  publishLearningObject,
  retireLearningObject,
  updateLearningObject,
} from './learning-objects.ts';

const names = (events: { eventName: string }[]) => events.map((event) => event.eventName);

describe('learning-object rules', () => {
  test('"Created through the UI → starts in draft. LEARNING_OBJECT_DRAFT while it stays a draft"', () => {
    const decided = createLearningObject({ id: 'course:1', loType: 'course' }, 'ui', at);
    assert.equal(decided.changes.learningObject.state, 'draft');
    assert.deepEqual(decided.events, [{ eventName: 'LEARNING_OBJECT_DRAFT', data: { loId: 'course:1', loType: 'course' } }]);
  });

  test('"every later update of the draft emits it again"', () => {
    const decided = updateLearningObject(aLearningObject({ state: 'draft' }), 'ui');
    assert.deepEqual(names(decided.events), ['LEARNING_OBJECT_DRAFT']);
    assert.equal(decided.changes.learningObject.state, 'draft');
  });

  test('"Published (draft → published) → LEARNING_OBJECT_MODIFICATION"', () => {
    const decided = publishLearningObject(aLearningObject({ state: 'draft', publishedAt: null }), at);
    assert.deepEqual(names(decided.events), ['LEARNING_OBJECT_MODIFICATION']);
    assert.deepEqual(decided.changes.learningObject, { state: 'published', publishedAt: at });
  });

  test('"every later change emits it again" (after publishing, and after retiring)', () => {
    assert.deepEqual(names(updateLearningObject(aLearningObject({ state: 'published' }), 'ui').events), ['LEARNING_OBJECT_MODIFICATION']);
    assert.deepEqual(names(updateLearningObject(aLearningObject({ state: 'retired' }), 'ui').events), ['LEARNING_OBJECT_MODIFICATION']);
  });

  test('"Retired → LEARNING_OBJECT_MODIFICATION for the LO, and its instances are retired too, each emitting LEARNING_OBJECT_INSTANCE_MODIFICATION"', () => {
    const lo = aLearningObject();
    const instances = [
      anInstance({ id: 'course:1000001_1' }),
      anInstance({ id: 'course:1000001_2', state: 'suspended' }),
      anInstance({ id: 'course:1000001_3', state: 'retired' }),
      anInstance({ id: 'course:1000001_4', state: 'deleted' }),
    ];
    const decided = retireLearningObject(lo, instances);
    assert.deepEqual(names(decided.events), [
      'LEARNING_OBJECT_MODIFICATION',
      'LEARNING_OBJECT_INSTANCE_MODIFICATION',
      'LEARNING_OBJECT_INSTANCE_MODIFICATION',
    ]);
    assert.deepEqual(decided.events[1]?.data, { loInstanceId: 'course:1000001_1', loId: lo.id, loType: 'course' });
    assert.deepEqual(decided.changes.instances, [
      { id: 'course:1000001_1', state: 'retired' },
      { id: 'course:1000001_2', state: 'retired' },
    ]);
  });

  test('"Deleted → LEARNING_OBJECT_DELETION"', () => {
    const decided = deleteLearningObject(aLearningObject({ state: 'draft' }), [anInstance()]);
    assert.deepEqual(names(decided.events), ['LEARNING_OBJECT_DELETION']);
    assert.deepEqual(decided.changes.instances, [{ id: 'course:1000001_1000001', state: 'deleted' }]);
  });

  test('"Created or changed through the migration workflow → LEARNING_OBJECT_MODIFICATION_BATCH (no draft or deletion events exist for migration)"', () => {
    const created = createLearningObject({ id: 'learningProgram:7', loType: 'learningProgram' }, 'migration', at);
    assert.deepEqual(created.events, [
      { eventName: 'LEARNING_OBJECT_MODIFICATION_BATCH', data: { loId: 'learningProgram:7', loType: 'learningProgram' } },
    ]);
    assert.equal(created.changes.learningObject.state, 'published');
    assert.deepEqual(names(updateLearningObject(aLearningObject({ state: 'draft' }), 'migration').events), [
      'LEARNING_OBJECT_MODIFICATION_BATCH',
    ]);
  });

  test('"Job aids produce no LO events"', () => {
    const jobAid = aLearningObject({ id: 'jobAid:5', loType: 'jobAid', state: 'draft' });
    assert.deepEqual(createLearningObject(jobAid, 'ui', at).events, []);
    assert.deepEqual(updateLearningObject(jobAid, 'ui').events, []);
    const published = publishLearningObject(jobAid, at);
    assert.deepEqual(published.events, []);
    assert.equal(published.changes.learningObject.state, 'published');
    assert.deepEqual(retireLearningObject({ ...jobAid, state: 'published' }, []).events, []);
    assert.deepEqual(deleteLearningObject(jobAid, []).events, []);
  });

  test('illegal transitions are refused with a plain message: publish a deleted, retired or published LO; retire a draft; change a deleted one', () => {
    const refused = (run: () => unknown, pattern: RegExp) =>
      assert.throws(run, (error: unknown) => error instanceof DomainError && error.kind === 'conflict' && pattern.test(error.message));
    refused(() => publishLearningObject(aLearningObject({ state: 'deleted' }), at), /is deleted/);
    refused(() => publishLearningObject(aLearningObject({ state: 'retired' }), at), /cannot be published again/);
    refused(() => publishLearningObject(aLearningObject({ state: 'published' }), at), /published already/);
    refused(() => retireLearningObject(aLearningObject({ state: 'draft' }), []), /publish it before retiring/);
    refused(() => updateLearningObject(aLearningObject({ state: 'deleted' }), 'ui'), /is deleted/);
    refused(() => deleteLearningObject(aLearningObject({ state: 'deleted' }), []), /is deleted/);
  });
});
