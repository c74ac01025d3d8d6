// What every rule returns: the changes to make, the events to append now, and the events to append later.
import { conflict, ruleViolation } from '../../errors.ts';

/** An event a rule decides on; the action's transaction gives it an id, a timestamp and a trace. */
export interface EventDraft {
  eventName: string;
  data: Record<string, unknown>;
}

/** An event held back until `dueAt` (LEARNER_PROGRESS after its aggregation delay), keeping its own timestamp. */
export interface ScheduledDraft extends EventDraft {
  dueAt: number;
  timestamp: number;
}

export interface RuleOutcome<Changes> {
  changes: Changes;
  events: EventDraft[];
  scheduled: ScheduledDraft[];
}

/** The rules refuse an action: a conflict with the current state. */
export function refuse(message: string, code = 'illegal_transition'): never {
  throw conflict(message, code);
}

/** The rules refuse an action that no state allows. */
export function invalid(message: string, code = 'invalid'): never {
  throw ruleViolation(message, code);
}

export function outcome<Changes>(changes: Changes, events: EventDraft[] = [], scheduled: ScheduledDraft[] = []): RuleOutcome<Changes> {
  return { changes, events, scheduled };
}
