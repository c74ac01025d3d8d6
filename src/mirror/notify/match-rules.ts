// Which rules an applied event fires, and into which message it goes (its own, or a digest window's): a pure decision.
import { holds } from './condition.ts';
import { conditionInput, type EventFacts, loIdOf, loTypeOf } from './facts.ts';
import type { CompiledRule } from './rules.ts';

export interface RuleMatch {
  rule: CompiledRule;
  /** Set when the event joins a digest: the window's key and its end (when the digest is sent). */
  digest?: { key: string; sendAt: number };
}

/** The group a digest collects per window: one message per rule, account, learning object, instance or learner. */
function groupOf(rule: CompiledRule, accountId: number, data: Record<string, unknown>): string {
  switch (rule.definition.digestBy ?? 'rule') {
    case 'rule':
      return '';
    case 'account':
      return String(accountId);
    case 'lo':
      return `${accountId} ${loIdOf(data) ?? ''}`;
    case 'instance':
      return `${accountId} ${String(data.loInstanceId ?? '')}`;
    case 'learner':
      return `${accountId} ${String(data.userId ?? '')}`;
  }
}

/** The digest window an event falls in, or undefined when the rule sends it on its own. */
function digestWindow(rule: CompiledRule, eventName: string, defaultWindowMs: number): number | undefined {
  if (rule.digest.kind === 'every') return rule.digest.windowMs;
  if (rule.digest.kind === 'batch' && eventName.endsWith('_BATCH')) return defaultWindowMs;
  return undefined;
}

/**
 * The rules an event fires. A rule's own digest window is aligned to multiples of its length since the epoch (a 1d
 * digest covers a UTC day); the default digest of `_BATCH` events opens with the first event and lasts
 * --notify-digest-window, so one bulk run is not cut in two by a boundary. Time is the mirror's time of applying:
 * an event that arrives late joins the digest open then.
 */
export function matchRules(
  rules: readonly CompiledRule[],
  accountId: number,
  facts: EventFacts,
  options: { now: number; defaultDigestWindowMs: number },
): RuleMatch[] {
  const matches: RuleMatch[] = [];
  const input = conditionInput(facts);
  for (const rule of rules) {
    const { definition } = rule;
    if (definition.enabled === false || !definition.events.includes(facts.eventName)) continue;
    if (definition.loType && !definition.loType.includes(loTypeOf(facts.data) ?? '')) continue;
    if (definition.loId && !definition.loId.includes(loIdOf(facts.data) ?? '')) continue;
    if (rule.condition && !holds(rule.condition, input)) continue;
    const windowMs = digestWindow(rule, facts.eventName, options.defaultDigestWindowMs);
    if (windowMs === undefined) {
      matches.push({ rule });
      continue;
    }
    const group = `${rule.id}|${groupOf(rule, accountId, facts.data)}`;
    if (rule.digest.kind === 'every') {
      const start = Math.floor(options.now / windowMs) * windowMs;
      matches.push({ rule, digest: { key: `${group}|${start}`, sendAt: start + windowMs } });
    } else {
      // A bulk run opens its digest with its first event, whenever that is; the digest is sent one window later.
      matches.push({ rule, digest: { key: `${group}|open`, sendAt: options.now + windowMs } });
    }
  }
  return matches;
}
