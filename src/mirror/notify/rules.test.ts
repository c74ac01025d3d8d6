// The pure parts of notifications: the condition language, rule checks that name the rule and the field, and matching with digest windows.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, test } from 'node:test';
import { sampleEvent } from '../../catalog/index.ts';
import { holds, parseCondition } from './condition.ts';
import { eventFacts } from './facts.ts';
import { matchRules } from './match-rules.ts';
import { checkRules, compileRule, parseRulesFile, RulesError } from './rules.ts';
import { renderTemplate } from './template.ts';

function problems(rules: unknown[], env: NodeJS.ProcessEnv = {}): string[] {
  try {
    checkRules(rules, env);
    return [];
  } catch (error) {
    if (error instanceof RulesError) return error.problems;
    throw error;
  }
}

const emailRule = (overrides: Record<string, unknown>) => ({
  name: 'r',
  events: ['COURSE_COMPLETED'],
  channel: { type: 'email', to: ['team@example.com'] },
  template: '{{learner.name}} completed {{lo.name}}',
  ...overrides,
});

describe('conditions', () => {
  test('comparisons, and/or/not, parentheses; a missing value is null and never orders', () => {
    const facts = {
      hasPassed: false,
      progressPercent: 85,
      previous: { progressPercent: 70, seatsAvailable: null },
      source: 'ADMIN_ENROLL',
    };
    assert.equal(holds(parseCondition('hasPassed == false'), facts), true);
    assert.equal(holds(parseCondition('previous.progressPercent < 80 and progressPercent >= 80'), facts), true);
    assert.equal(holds(parseCondition('not (progressPercent > 90 or hasPassed)'), facts), true);
    assert.equal(holds(parseCondition("source != 'SELF_ENROLL' && progressPercent > 50"), facts), true);
    assert.equal(holds(parseCondition('previous.seatsAvailable == 0'), facts), false);
    assert.equal(holds(parseCondition('previous.seatsAvailable < 1'), facts), false);
    assert.equal(holds(parseCondition('previous.seatsAvailable == null'), facts), true);
  });

  test('a malformed condition says what was expected and where', () => {
    assert.throws(() => parseCondition('hasPassed =='), /the condition ends too early/);
    assert.throws(() => parseCondition('(a == 1'), /expected "\)" but found the end/);
    assert.throws(() => parseCondition('a == 1 b'), /expected "and", "or" or the end but found "b" at character 8/);
    assert.throws(() => parseCondition('a = 1'), /unexpected "= 1" at character 3/);
  });
});

describe('rule checks name the rule and the field', () => {
  test('the example rules of the docs are valid', () => {
    assert.equal(parseRulesFile('rules: []').length, 0);
  });

  test('unknown event, a field the event does not have, an unknown template variable, a bad recipient', () => {
    assert.deepEqual(problems([emailRule({ events: ['COURSE_COMPLETE'] })]), [
      'rule "r": events: "COURSE_COMPLETE" is not an event of the catalog',
    ]);
    assert.match(
      problems([emailRule({ condition: 'progressPercent > 50' })])[0] ?? '',
      /^rule "r": condition: COURSE_COMPLETED has no field "progressPercent"; it offers /,
    );
    assert.match(
      problems([emailRule({ template: 'Hi {{learner.phone}}' })])[0] ?? '',
      /^rule "r": template: unknown variable \{\{learner\.phone\}\}/,
    );
    assert.deepEqual(problems([emailRule({ channel: { type: 'email', to: ['learner', 'nobody'] } })]), [
      'rule "r": channel.to: "nobody" is not an e-mail address (or learner)',
    ]);
    // CI_STATS is about an instance, not a learner.
    assert.match(
      problems([{ ...emailRule({ events: ['CI_STATS'], template: '{{instance.id}}' }), channel: { type: 'email', to: ['learner'] } }])[0] ??
        '',
      /channel\.to: learner: only events about a learner/,
    );
  });

  test('a rule with several events may use only what all of them have', () => {
    assert.match(
      problems([emailRule({ events: ['COURSE_COMPLETED', 'LEARNER_PROGRESS'], condition: 'hasPassed == false' })])[0] ?? '',
      /LEARNER_PROGRESS has no field "hasPassed"/,
    );
  });

  // biome-ignore lint/suspicious/noTemplateCurlyInString: the placeholder's syntax, named in the test's title
  test('environment variables fill ${NAME}; an unset one is named with its rule and field', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a rules file's placeholder, not a template literal
    const chat = { name: 'c', events: ['CI_STATS'], channel: { type: 'chat', url: '${HOOK}' }, template: '{{instance.id}}' };
    assert.equal(checkRules([chat], { HOOK: 'https://chat.example.com/x' })[0]?.channel.type, 'chat');
    assert.match(problems([chat])[0] ?? '', /^rule "c": channel\.url: the environment variable HOOK is not set/);
  });

  test('names are unique, unknown fields and bad digests are refused', () => {
    assert.deepEqual(problems([emailRule({}), emailRule({})]), ['rule "r": name: used by two rules of the file']);
    assert.match(problems([emailRule({ digets: '1d' })])[0] ?? '', /^rule "r": digets: unknown field/);
    assert.match(problems([emailRule({ digest: 'daily' })])[0] ?? '', /^rule "r": digest: "daily" is not off or a window/);
    assert.match(
      problems([emailRule({ channel: { type: 'email', to: ['learner'] }, digest: '1d' })])[0] ?? '',
      /digestBy: a digest sent to the learner must be grouped by learner/,
    );
  });

  test('a file that is not YAML, or holds no list, is refused', () => {
    assert.throws(() => parseRulesFile('rules: [\n'), /not valid YAML or JSON/);
    assert.throws(() => parseRulesFile('just: text'), /must hold a list of rules/);
  });
});

describe('matching', () => {
  const enrollment = (userId: number) => {
    const sample = sampleEvent('COURSE_ENROLLMENT_BATCH');
    return eventFacts({ ...sample, timestamp: Date.parse(sample.timestamp), known: true, data: { ...sample.data, userId } }, null, null);
  };
  const rule = (overrides: Record<string, unknown>, id = 1) =>
    compileRule(id, checkRules([emailRule({ events: ['COURSE_ENROLLMENT_BATCH', 'COURSE_ENROLLMENT'], ...overrides })], {})[0] as never);

  test('_BATCH events are grouped by default, in a window opened by the first event', () => {
    const [match] = matchRules([rule({})], 5, enrollment(1), { now: 1_000_123, defaultDigestWindowMs: 60_000 });
    assert.deepEqual(match?.digest, { key: '1||open', sendAt: 1_060_123 });
  });

  test('a rule window is aligned to its length (a day is a UTC day) and grouped as asked', () => {
    const now = Date.UTC(2026, 0, 2, 15, 30);
    const [match] = matchRules([rule({ digest: '1d', digestBy: 'lo' })], 5, enrollment(1), { now, defaultDigestWindowMs: 60_000 });
    assert.deepEqual(match?.digest, { key: `1|5 course:12345678|${Date.UTC(2026, 0, 2)}`, sendAt: Date.UTC(2026, 0, 3) });
  });

  test('digest off sends each event; loType, loId and disabled rules filter', () => {
    const options = { now: 0, defaultDigestWindowMs: 60_000 };
    assert.equal(matchRules([rule({ digest: 'off' })], 5, enrollment(1), options)[0]?.digest, undefined);
    assert.equal(matchRules([rule({ loType: 'certification' })], 5, enrollment(1), options).length, 0);
    assert.equal(matchRules([rule({ loId: ['course:12345678'] })], 5, enrollment(1), options).length, 1);
    assert.equal(matchRules([rule({ enabled: false })], 5, enrollment(1), options).length, 0);
  });

  test('templates render the known variables', () => {
    assert.equal(renderTemplate('{{ learner.name }} → {{lo.name}}', { 'learner.name': 'Ada', 'lo.name': 'Safety' }), 'Ada → Safety');
  });
});

describe('docs/notifications.md', () => {
  const docs = fs.readFileSync(new URL('../../../docs/notifications.md', import.meta.url), 'utf8');

  test('shows exactly the example rules file that the end-to-end test loads', () => {
    const file = fs.readFileSync(new URL('../../../docs/examples/notification-rules.yaml', import.meta.url), 'utf8');
    const shown = /```yaml\n(rules:\n[\s\S]*?)```/.exec(docs)?.[1];
    assert.equal(shown, file.slice(file.indexOf('rules:\n')));
  });

  test('its refused rules example gives the problems it shows', () => {
    const example = /\$ cat my-rules\.yaml\n([\s\S]*?)\$ npx/.exec(docs)?.[1] ?? '';
    const shown = /learnhook: my-rules\.yaml: (.*)\n((?: {2}.*\n)+)/.exec(docs);
    assert.throws(
      () => parseRulesFile(example, {}),
      (error: unknown) => {
        assert.ok(error instanceof RulesError);
        assert.equal(`${error.problems.length} problems:`, shown?.[1]);
        const lines = (shown?.[2] ?? '').trimEnd().split('\n');
        error.problems.forEach((problem, index) => {
          const [prefix] = (lines[index] ?? '').trim().split(/, …|…/);
          assert.ok(problem.startsWith(prefix ?? '-'), `${problem}\ndoes not start with\n${prefix}`);
        });
        return true;
      },
    );
  });
});
