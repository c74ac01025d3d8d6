// The dry run of `learnhook mirror rules check FILE --last N`: which rules the last N events of the inbox would have fired. Sends nothing.
import type { Kysely } from 'kysely';
import { eventDefinition } from '../../catalog/index.ts';
import { type MirrorEvent, parseEnvelope } from '../parse-envelope.ts';
import { type CiStatsRow, type EnrollmentRow, type Observation, reduceCiStats, reduceEnrollment } from '../reducer.ts';
import type { MirrorSchema } from '../schema.ts';
import { ciStatsFacts, enrollmentFacts, eventFacts, type RecordFacts, recordKind } from './facts.ts';
import { matchRules } from './match-rules.ts';
import { tookEffect } from './record-notifications.ts';
import { type CompiledRule, compileRule, type RuleDefinition } from './rules.ts';

export interface CheckedEvent {
  inboxId: number;
  accountId: number;
  eventId: string;
  eventName: string;
  timestamp: string;
  /** Rules it would fire, with `digest` when it would join a digest rather than be sent on its own. */
  fired: Array<{ rule: string; digest: boolean }>;
  /** Why it would notify nobody, when the mirror would not act on it. */
  skipped?: string;
}

export interface CheckReport {
  events: CheckedEvent[];
  /** Per rule: how many of the events it would fire for. */
  counts: Record<string, number>;
}

/** The last `last` catalog events of the inbox (test deliveries left out), oldest first. */
async function lastEvents(
  db: Kysely<MirrorSchema>,
  last: number,
): Promise<Array<{ inboxId: number; accountId: number; event: MirrorEvent }>> {
  const found: Array<{ inboxId: number; accountId: number; event: MirrorEvent }> = [];
  let before = Number.MAX_SAFE_INTEGER;
  while (found.length < last) {
    const rows = await db
      .selectFrom('inbox')
      .select(['id', 'body'])
      .where('test', '=', 0)
      .where('id', '<', before)
      .orderBy('id', 'desc')
      .limit(100)
      .execute();
    if (rows.length === 0) break;
    for (const row of rows) {
      before = row.id;
      const parsed = parseEnvelope(JSON.parse(row.body));
      if (!parsed.ok) continue;
      const events = parsed.envelope.events.map((event) => ({ inboxId: row.id, accountId: parsed.envelope.accountId, event }));
      found.unshift(...events.slice(Math.max(0, events.length - (last - found.length))));
      if (found.length >= last) break;
    }
  }
  return found;
}

/**
 * Replays the events in receipt order through the mirror's own reducer, starting from no records: a condition on
 * `previous.*` sees the events of the window only (the first event of a record in it has no previous record).
 */
export async function checkRules(
  db: Kysely<MirrorSchema>,
  definitions: readonly RuleDefinition[],
  options: { last: number; now: number; digestWindowMs: number },
): Promise<CheckReport> {
  const rules: CompiledRule[] = definitions.map((definition, index) => compileRule(-(index + 1), definition));
  const seen = new Set<string>();
  const ciStats = new Map<string, CiStatsRow>();
  const enrollments = new Map<string, EnrollmentRow>();
  const report: CheckReport = { events: [], counts: Object.fromEntries(definitions.map((definition) => [definition.name, 0])) };
  for (const { inboxId, accountId, event } of await lastEvents(db, options.last)) {
    const checked: CheckedEvent = {
      inboxId,
      accountId,
      eventId: event.eventId,
      eventName: event.eventName,
      timestamp: new Date(event.timestamp).toISOString(),
      fired: [],
    };
    report.events.push(checked);
    if (seen.has(`${accountId} ${event.eventId}`)) {
      checked.skipped = 'a duplicate: the mirror applies an event once';
      continue;
    }
    seen.add(`${accountId} ${event.eventId}`);
    if (!eventDefinition(event.eventName)) {
      checked.skipped = 'not an event of the catalog';
      continue;
    }
    const kind = recordKind(event.eventName);
    let previous: RecordFacts | null = null;
    let record: RecordFacts | null = null;
    let observations: Observation[] = [];
    if (kind === 'ciStats') {
      const key = `${accountId} ${String(event.data.loInstanceId)}`;
      const current = ciStats.get(key);
      const reduced = reduceCiStats(current, accountId, event);
      ciStats.set(key, reduced.row);
      [previous, record, observations] = [ciStatsFacts(current), ciStatsFacts(reduced.row), reduced.observations];
    } else if (kind === 'enrollment') {
      const key = `${accountId} ${String(event.data.userId)} ${String(event.data.loInstanceId)}`;
      const current = enrollments.get(key);
      const reduced = reduceEnrollment(current, accountId, event);
      enrollments.set(key, reduced.row);
      [previous, record, observations] = [enrollmentFacts(current), enrollmentFacts(reduced.row), reduced.observations];
    }
    if (!tookEffect(event, observations)) {
      checked.skipped = `ignored by the mirror: ${observations.map((observation) => observation.detail).join('; ')}`;
      continue;
    }
    for (const match of matchRules(rules, accountId, eventFacts(event, previous, record), {
      now: options.now,
      defaultDigestWindowMs: options.digestWindowMs,
    })) {
      checked.fired.push({ rule: match.rule.definition.name, digest: match.digest !== undefined });
      report.counts[match.rule.definition.name] = (report.counts[match.rule.definition.name] ?? 0) + 1;
    }
  }
  return report;
}
