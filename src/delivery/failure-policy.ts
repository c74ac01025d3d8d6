// What to do about a webhook that keeps failing: nothing yet, a reminder e-mail, or disabling it (SPEC §3, auto-disable).

export interface FailureState {
  /** When the webhook's current run of failures began; null while it is healthy. */
  failingSince: number | null;
  /** When the last reminder was sent during this run of failures. */
  lastReminderAt: number | null;
}

export interface FailureRules {
  disableAfterMs: number;
  reminderEveryMs: number;
}

export type FailureAction = 'none' | 'remind' | 'disable';

export function decideFailureAction(state: FailureState, rules: FailureRules, now: number): FailureAction {
  if (state.failingSince === null) return 'none';
  if (now - state.failingSince >= rules.disableAfterMs) return 'disable';
  // The first reminder comes one interval after the failures began, then one every interval.
  const last = state.lastReminderAt ?? state.failingSince;
  return now - last >= rules.reminderEveryMs ? 'remind' : 'none';
}
