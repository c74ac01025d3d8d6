// Reminder and disable decisions for a failing webhook, at fixed instants.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideFailureAction } from './failure-policy.ts';

const day = 86_400_000;
const rules = { disableAfterMs: 7 * day, reminderEveryMs: day };
const start = Date.parse('2026-03-01T00:00:00Z');

test('a healthy webhook needs nothing', () => {
  assert.equal(decideFailureAction({ failingSince: null, lastReminderAt: null }, rules, start), 'none');
});

test('the first reminder comes one interval after the failures began, then one per interval', () => {
  assert.equal(decideFailureAction({ failingSince: start, lastReminderAt: null }, rules, start + day - 1), 'none');
  assert.equal(decideFailureAction({ failingSince: start, lastReminderAt: null }, rules, start + day), 'remind');
  assert.equal(decideFailureAction({ failingSince: start, lastReminderAt: start + day }, rules, start + 2 * day - 1), 'none');
  assert.equal(decideFailureAction({ failingSince: start, lastReminderAt: start + day }, rules, start + 2 * day), 'remind');
});

test('after failing for the whole disable period the webhook is disabled, whatever the reminders', () => {
  assert.equal(decideFailureAction({ failingSince: start, lastReminderAt: start + 6 * day }, rules, start + 7 * day - 1), 'none');
  assert.equal(decideFailureAction({ failingSince: start, lastReminderAt: start + 6 * day }, rules, start + 7 * day), 'disable');
});
