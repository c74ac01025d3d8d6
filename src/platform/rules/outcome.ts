// What every rule returns: the changes to make, the events to append now, and the events to append later.

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

/** An action the rules refuse in the current state; `status` 409 for a conflict with the state, 422 for an impossible request. */
export class RuleViolation extends Error {
  override name = 'RuleViolation';
  constructor(
    readonly status: 409 | 422,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function refuse(message: string, code = 'illegal_transition'): never {
  throw new RuleViolation(409, code, message);
}

export function invalid(message: string, code = 'invalid'): never {
  throw new RuleViolation(422, code, message);
}

export function outcome<Changes>(changes: Changes, events: EventDraft[] = [], scheduled: ScheduledDraft[] = []): RuleOutcome<Changes> {
  return { changes, events, scheduled };
}
