// Message templates: `{{learner.name}} did not pass {{lo.name}}`. The variables an event offers are known, so a typo is refused at load.
import { eventDefinition } from '../../catalog/index.ts';
import { conditionFieldsOf } from './facts.ts';

const placeholder = /\{\{\s*([^{}]*?)\s*\}\}/g;

/** The variable names a template uses, in order of appearance. */
export function templateVariables(template: string): string[] {
  return [...template.matchAll(placeholder)].map((match) => match[1] as string);
}

/** Replaces each `{{name}}`; the names were checked at load, so a missing value renders as an empty string. */
export function renderTemplate(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(placeholder, (_match, name: string) => values[name] ?? '');
}

export const ruleVariables = ['rule.name', 'account.id'] as const;
const learnerVariables = ['learner.id', 'learner.name', 'learner.email'] as const;
const loVariables = ['lo.id', 'lo.name', 'lo.type'] as const;
const instanceVariables = ['instance.id', 'instance.name'] as const;
export const digestVariables = ['digest.count', 'digest.from', 'digest.to'] as const;

/** The variables a message about one event can use: the rule, the event, its data, the records, and enriched names. */
export function eventVariables(eventName: string): Set<string> {
  const variables = new Set<string>([...ruleVariables, 'event.name', 'event.id', 'event.time']);
  for (const field of conditionFieldsOf(eventName)) {
    if (field === 'eventName') continue;
    variables.add(field.includes('.') ? field : `data.${field}`);
  }
  for (const name of groupVariables(eventName)) variables.add(name);
  return variables;
}

/** The enriched names an event offers: the learner, the learning object and the instance it names. */
export function groupVariables(eventName: string, by?: 'learner' | 'lo' | 'instance'): string[] {
  const family = eventDefinition(eventName)?.family;
  const hasUser = family !== undefined && ['enrollment', 'completion', 'unenrollment', 'progress'].includes(family);
  const hasInstance = hasUser || family === 'ciStats' || family === 'loInstance';
  const names: string[] = [];
  if (hasUser && (by === undefined || by === 'learner')) names.push(...learnerVariables);
  if (family !== undefined && (by === undefined || by === 'lo' || by === 'instance')) names.push(...loVariables);
  if (hasInstance && (by === undefined || by === 'instance')) names.push(...instanceVariables);
  return names;
}
