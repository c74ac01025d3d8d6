// Notification rules: read from YAML or JSON, checked against the catalog (events, fields, template variables), compiled for matching.
import { createHash } from 'node:crypto';
import YAML from 'yaml';
import { eventDefinition, loTypes } from '../../catalog/index.ts';
import { formatDuration, parseDuration } from '../../config.ts';
import { DomainError } from '../../errors.ts';
import { type Condition, ConditionError, conditionFields, parseCondition } from './condition.ts';
import { conditionFieldsOf } from './facts.ts';
import { digestVariables, eventVariables, groupVariables, ruleVariables, templateVariables } from './template.ts';

export type DigestGroup = 'rule' | 'account' | 'lo' | 'instance' | 'learner';

export interface EmailChannel {
  type: 'email';
  /** E-mail addresses, and `learner` for the learner's own address from the mirror's users table. */
  to: string[];
  /** Subject template; defaults to the rule's name (a digest's title for a digest). */
  subject?: string;
}

export interface ChatChannel {
  type: 'chat';
  /** A Slack- or Teams-style incoming webhook: it receives `POST {"text": "…"}`. */
  url: string;
}

/** A rule as stored and as written in a rules file (after `${VAR}` substitution). */
export interface RuleDefinition {
  name: string;
  description?: string;
  events: string[];
  loType?: string[];
  loId?: string[];
  condition?: string;
  channel: EmailChannel | ChatChannel;
  template: string;
  /** `off`, or a window such as `1h` or `1d`; when absent, `_BATCH` events are grouped per --notify-digest-window. */
  digest?: string;
  digestBy?: DigestGroup;
  digestTitle?: string;
  enabled?: boolean;
}

/** A rule ready to match: its condition parsed and its digest window in milliseconds. */
export interface CompiledRule {
  id: number;
  definition: RuleDefinition;
  condition?: Condition;
  /** `off`, a fixed window, or `batch`: only `_BATCH` events, in the default window. */
  digest: { kind: 'off' } | { kind: 'every'; windowMs: number } | { kind: 'batch' };
  /** Whether its condition or texts read `previous.*` or `record.*` (else the projector need not read the records). */
  readsRecords: boolean;
}

/** Rules refused: every problem, each naming the rule and the field. */
export class RulesError extends DomainError {
  override name = 'RulesError';
  constructor(readonly problems: string[]) {
    super(
      'invalid',
      'invalid_rules',
      problems.length === 1 ? (problems[0] as string) : `${problems.length} problems:\n  ${problems.join('\n  ')}`,
      problems,
    );
  }
}

const ruleKeys = new Set([
  'name',
  'description',
  'events',
  'loType',
  'loId',
  'condition',
  'channel',
  'template',
  'digest',
  'digestBy',
  'digestTitle',
  'enabled',
]);
const digestGroups: readonly DigestGroup[] = ['rule', 'account', 'lo', 'instance', 'learner'];
const emailPattern = /^[^\s@<>",]+@[^\s@<>",]+\.[^\s@<>",]+$/;
export const defaultDigestTitle = '{{rule.name}}: {{digest.count}} events from {{digest.from}} to {{digest.to}}';

/** Replaces `${NAME}` in every string with the environment variable; an unset one is a problem naming the rule and field. */
function substitute(value: unknown, env: NodeJS.ProcessEnv, label: string, field: string, problems: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (match, name: string) => {
      const found = env[name];
      if (found === undefined) {
        problems.push(`${label}: ${field || 'value'}: the environment variable ${name} is not set (written ${match})`);
        return match;
      }
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((item, index) => substitute(item, env, label, `${field}[${index}]`, problems));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, substitute(item, env, label, field ? `${field}.${key}` : key, problems)]),
    );
  }
  return value;
}

function asList(value: unknown): unknown[] | undefined {
  if (value === undefined || value === null) return undefined;
  return Array.isArray(value) ? value : [value];
}

/** The variables every one of the rule's events offers (a template may use only those). */
function commonVariables(events: readonly string[], pick: (event: string) => Iterable<string>): Set<string> {
  let common: Set<string> | undefined;
  for (const event of events) {
    const offered = new Set(pick(event));
    common = common ? new Set([...common].filter((name) => offered.has(name))) : offered;
  }
  return common ?? new Set();
}

function checkTemplate(template: unknown, allowed: Set<string>, where: string, problems: string[]): void {
  if (typeof template !== 'string') {
    problems.push(`${where}: must be text`);
    return;
  }
  for (const name of templateVariables(template)) {
    if (!allowed.has(name)) {
      problems.push(`${where}: unknown variable {{${name}}}; this rule's events offer ${[...allowed].sort().join(', ')}`);
    }
  }
}

/** Checks one rule (any shape) and returns it normalised; problems name the rule and the field. */
export function checkRule(raw: unknown, position: number, problems: string[]): RuleDefinition | undefined {
  const start = problems.length;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push(`rule #${position + 1}: must be an object with name, events, channel and template`);
    return undefined;
  }
  const input = raw as Record<string, unknown>;
  const name = typeof input.name === 'string' ? input.name : undefined;
  const label = name ? `rule "${name}"` : `rule #${position + 1}`;
  const problem = (field: string, message: string) => problems.push(`${label}: ${field}: ${message}`);
  if (!name || !/^[A-Za-z0-9][\w.-]{0,99}$/.test(name)) problem('name', 'give a name of letters, digits, ".", "-" or "_" (up to 100)');
  for (const key of Object.keys(input)) if (!ruleKeys.has(key)) problem(key, `unknown field; a rule has ${[...ruleKeys].join(', ')}`);

  const events = asList(input.events) ?? [];
  if (events.length === 0) problem('events', 'name at least one event of the catalog, e.g. [COURSE_COMPLETED]');
  const eventNames: string[] = [];
  for (const event of events) {
    if (typeof event !== 'string' || !eventDefinition(event)) problem('events', `"${String(event)}" is not an event of the catalog`);
    else if (!eventNames.includes(event)) eventNames.push(event);
  }

  const loType = asList(input.loType)?.map(String);
  for (const type of loType ?? []) {
    if (!(loTypes as readonly string[]).includes(type)) problem('loType', `"${type}" is not one of ${loTypes.join(', ')}`);
  }
  const loId = asList(input.loId)?.map(String);
  for (const id of loId ?? []) {
    if (!/^(course|learningProgram|certification):\d+$/.test(id)) problem('loId', `"${id}" is not a learning object id like course:12345`);
  }

  let condition: string | undefined;
  if (input.condition !== undefined && input.condition !== null) {
    if (typeof input.condition !== 'string' && typeof input.condition !== 'boolean') problem('condition', 'must be an expression');
    else {
      condition = String(input.condition);
      try {
        const fields = conditionFields(parseCondition(condition));
        for (const event of eventNames) {
          const offered = conditionFieldsOf(event);
          for (const field of fields) {
            if (!offered.has(field)) problem('condition', `${event} has no field "${field}"; it offers ${[...offered].sort().join(', ')}`);
          }
        }
      } catch (error) {
        if (!(error instanceof ConditionError)) throw error;
        problem('condition', error.message);
      }
    }
  }

  const channel = input.channel as Record<string, unknown> | undefined;
  let checkedChannel: EmailChannel | ChatChannel | undefined;
  const hasUser = eventNames.length > 0 && eventNames.every((event) => groupVariables(event, 'learner').length > 0);
  if (typeof channel !== 'object' || channel === null) problem('channel', 'give { type: email, to: [...] } or { type: chat, url: ... }');
  else if (channel.type === 'email') {
    const to = asList(channel.to)?.map(String) ?? [];
    if (to.length === 0) problem('channel.to', 'name at least one recipient: an e-mail address, or learner');
    for (const recipient of to) {
      if (recipient === 'learner') {
        if (!hasUser) problem('channel.to', 'learner: only events about a learner (enrollments, completions, progress) have one');
      } else if (!emailPattern.test(recipient)) problem('channel.to', `"${recipient}" is not an e-mail address (or learner)`);
    }
    for (const key of Object.keys(channel)) {
      if (!['type', 'to', 'subject'].includes(key)) problem(`channel.${key}`, 'unknown field; an e-mail channel has type, to and subject');
    }
    checkedChannel = { type: 'email', to, ...(typeof channel.subject === 'string' ? { subject: channel.subject } : {}) };
  } else if (channel.type === 'chat') {
    const url = typeof channel.url === 'string' ? channel.url : '';
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {}
    if (!parsed || !['http:', 'https:'].includes(parsed.protocol)) problem('channel.url', `"${url}" is not an http(s) URL`);
    for (const key of Object.keys(channel)) {
      if (!['type', 'url'].includes(key)) problem(`channel.${key}`, 'unknown field; a chat channel has type and url');
    }
    checkedChannel = { type: 'chat', url };
  } else problem('channel.type', `"${String(channel.type)}" is not a channel: use email or chat`);

  let digest: string | undefined;
  if (input.digest !== undefined && input.digest !== null) {
    digest = String(input.digest);
    if (digest !== 'off') {
      try {
        const windowMs = parseDuration(digest);
        if (windowMs < 1000 || windowMs > 31 * 86_400_000) problem('digest', `${digest} is outside 1s..31d`);
        else digest = formatDuration(windowMs);
      } catch {
        problem('digest', `"${digest}" is not off or a window like 1h or 1d`);
      }
    }
  }
  const digestBy = input.digestBy === undefined ? undefined : String(input.digestBy);
  if (digestBy !== undefined && !(digestGroups as readonly string[]).includes(digestBy)) {
    problem('digestBy', `"${digestBy}" is not one of ${digestGroups.join(', ')}`);
  }
  const group = (digestBy ?? 'rule') as DigestGroup;
  const toLearner = checkedChannel?.type === 'email' && checkedChannel.to.includes('learner');
  const digests = digest !== undefined ? digest !== 'off' : eventNames.some((event) => event.endsWith('_BATCH')) && !toLearner;
  if (toLearner && digest !== undefined && digest !== 'off' && group !== 'learner') {
    problem('digestBy', 'a digest sent to the learner must be grouped by learner (digestBy: learner)');
  }
  if ((group === 'lo' || group === 'instance' || group === 'learner') && eventNames.length > 0) {
    for (const event of eventNames) {
      if (groupVariables(event, group).length === 0 || (group === 'instance' && !groupVariables(event, 'instance').includes('instance.id')))
        problem('digestBy', `${event} has no ${group} to group by`);
    }
  }

  if (input.template === undefined) problem('template', 'give the message text, e.g. "{{learner.name}} completed {{lo.name}}"');
  else if (eventNames.length > 0)
    checkTemplate(input.template, commonVariables(eventNames, eventVariables), `${label}: template`, problems);
  const titleVariables = new Set<string>([
    ...ruleVariables,
    ...digestVariables,
    ...(group === 'rule' || group === 'account' ? [] : commonVariables(eventNames, (event) => groupVariables(event, group))),
  ]);
  if (input.digestTitle !== undefined) checkTemplate(input.digestTitle, titleVariables, `${label}: digestTitle`, problems);
  if (checkedChannel?.type === 'email' && checkedChannel.subject !== undefined && eventNames.length > 0) {
    // A digest's subject speaks of the whole digest; a single message's of its event.
    const allowed = digests ? titleVariables : commonVariables(eventNames, eventVariables);
    checkTemplate(checkedChannel.subject, allowed, `${label}: channel.subject`, problems);
  }
  if (input.enabled !== undefined && typeof input.enabled !== 'boolean') problem('enabled', 'must be true or false');
  if (input.description !== undefined && typeof input.description !== 'string') problem('description', 'must be text');

  if (problems.length > start || !name || !checkedChannel) return undefined;
  return {
    name,
    ...(typeof input.description === 'string' ? { description: input.description } : {}),
    events: eventNames,
    ...(loType ? { loType } : {}),
    ...(loId ? { loId } : {}),
    ...(condition !== undefined ? { condition } : {}),
    channel: checkedChannel,
    template: input.template as string,
    ...(digest !== undefined ? { digest } : {}),
    ...(digestBy !== undefined ? { digestBy: group } : {}),
    ...(typeof input.digestTitle === 'string' ? { digestTitle: input.digestTitle } : {}),
    ...(input.enabled === false ? { enabled: false } : {}),
  };
}

/** Reads a rules file (YAML or JSON: `rules: [...]` or a bare list); every problem is collected before refusing. */
export function parseRulesFile(text: string, env: NodeJS.ProcessEnv = process.env): RuleDefinition[] {
  let document: unknown;
  try {
    document = YAML.parse(text, { prettyErrors: true, uniqueKeys: true });
  } catch (error) {
    throw new RulesError([`the file is not valid YAML or JSON: ${(error as Error).message.split('\n')[0]}`]);
  }
  const list = Array.isArray(document) ? document : (document as { rules?: unknown } | null)?.rules;
  if (!Array.isArray(list)) throw new RulesError(['the file must hold a list of rules, or an object with a "rules" list']);
  return checkRules(list, env);
}

/** Checks a list of rules (from a file or an API body); names must be unique. */
export function checkRules(list: readonly unknown[], env: NodeJS.ProcessEnv = process.env): RuleDefinition[] {
  const problems: string[] = [];
  const rules: RuleDefinition[] = [];
  const seen = new Set<string>();
  list.forEach((raw, index) => {
    const name = (raw as { name?: unknown } | null)?.name;
    const where = typeof name === 'string' ? `rule "${name}"` : `rule #${index + 1}`;
    const rule = checkRule(substitute(raw, env, where, '', problems), index, problems);
    if (!rule) return;
    if (seen.has(rule.name)) problems.push(`rule "${rule.name}": name: used by two rules of the file`);
    seen.add(rule.name);
    rules.push(rule);
  });
  if (problems.length > 0) throw new RulesError(problems);
  return rules;
}

/** Compiles a stored rule for matching. */
export function compileRule(id: number, definition: RuleDefinition): CompiledRule {
  const digest: CompiledRule['digest'] =
    definition.digest === 'off'
      ? { kind: 'off' }
      : definition.digest !== undefined
        ? { kind: 'every', windowMs: parseDuration(definition.digest) }
        : definition.events.some((event) => event.endsWith('_BATCH')) &&
            !(definition.channel.type === 'email' && definition.channel.to.includes('learner'))
          ? { kind: 'batch' }
          : { kind: 'off' };
  const texts = [
    definition.condition,
    definition.template,
    definition.digestTitle,
    definition.channel.type === 'email' ? definition.channel.subject : undefined,
  ];
  return {
    id,
    definition,
    ...(definition.condition !== undefined ? { condition: parseCondition(definition.condition) } : {}),
    digest,
    readsRecords: texts.some((text) => text !== undefined && /\b(previous|record)\./.test(text)),
  };
}

/** A channel's identity for health tracking: the SMTP server for e-mail, the webhook's origin and path for chat. */
export function channelKey(channel: EmailChannel | ChatChannel): string {
  if (channel.type === 'email') return 'email';
  // The path of an incoming webhook is its secret: shown as a short hash.
  const hash = createHash('sha256').update(channel.url).digest('hex').slice(0, 8);
  return `chat ${new URL(channel.url).origin} #${hash}`;
}
