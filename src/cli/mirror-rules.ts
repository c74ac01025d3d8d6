// `learnhook mirror rules list|add|load|remove|check|flush|test`: the mirror's notification rules, on its database (a running mirror picks changes up).
// Modules are imported when a command runs, so the CLI starts fast.
import type { Command } from 'commander';
import { ConfigError, type Settings } from '../config.ts';
import { DomainError } from '../errors.ts';
import type { RuleDefinition } from '../mirror/notify/rules.ts';
import type { MirrorSchema } from '../mirror/schema.ts';
import type { Database } from '../store/database.ts';
import { noteDatabase } from './cli-error.ts';
import { withExamples } from './help.ts';
import { addSettingOptions, settingsFromOptions } from './options.ts';

async function withDatabase<T>(settings: Settings, run: (database: Database<MirrorSchema>) => Promise<T>): Promise<T> {
  const { mirrorDatabaseUrl } = await import('../mirror/start-mirror.ts');
  const { openDatabase } = await import('../store/database.ts');
  const { migrate } = await import('../store/migrate.ts');
  noteDatabase(mirrorDatabaseUrl(settings));
  const database = await openDatabase<MirrorSchema>(mirrorDatabaseUrl(settings));
  try {
    await migrate(database as Database<unknown>, 'mirror');
    return await run(database);
  } finally {
    await database.close();
  }
}

/** Reads and checks a rules file (`-` for standard input); every problem names the rule and the field. */
async function readRules(file: string): Promise<RuleDefinition[]> {
  const fs = await import('node:fs');
  const { parseRulesFile, RulesError } = await import('../mirror/notify/rules.ts');
  let text: string;
  try {
    text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (error) {
    throw new ConfigError(`${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  try {
    return parseRulesFile(text);
  } catch (error) {
    if (error instanceof RulesError) throw new ConfigError(`${file}: ${error.message}`);
    throw error;
  }
}

async function refuseUnreachable(rules: readonly RuleDefinition[], settings: Settings, check: boolean): Promise<void> {
  if (!check) return;
  const { Channels, checkChannels } = await import('../mirror/notify/channels.ts');
  const channels = new Channels(settings);
  try {
    const problems = await checkChannels(rules, channels, settings.notifyTimeoutMs);
    if (problems.length > 0) {
      throw new ConfigError(`${problems.join('\n  ')}\n  (nothing was changed; --no-channel-check stores the rules anyway)`);
    }
  } finally {
    channels.close();
  }
}

async function store(file: string, options: Record<string, unknown>, replaceAll: boolean): Promise<void> {
  const settings = settingsFromOptions(options);
  const rules = await readRules(file);
  await refuseUnreachable(rules, settings, options.channelCheck !== false);
  const { putRules } = await import('../mirror/notify/rules-store.ts');
  const { mirrorDatabaseUrl } = await import('../mirror/start-mirror.ts');
  const { redactUrl } = await import('../store/database.ts');
  const change = await withDatabase(settings, (database) => putRules(database.db, rules, { now: Date.now(), replaceAll }));
  const parts = [
    `${change.added.length} added${change.added.length ? ` (${change.added.join(', ')})` : ''}`,
    `${change.updated.length} updated${change.updated.length ? ` (${change.updated.join(', ')})` : ''}`,
    `${change.unchanged.length} unchanged`,
  ];
  if (replaceAll) parts.push(`${change.removed.length} removed${change.removed.length ? ` (${change.removed.join(', ')})` : ''}`);
  process.stdout.write(`rules: ${parts.join(', ')} in ${redactUrl(mirrorDatabaseUrl(settings))}\n`);
}

const when = (iso: string | null) => iso ?? '-';

/** Registers `mirror rules …` under the `mirror` command. */
export function addRulesCommands(mirror: Command): void {
  const rules = withExamples(
    mirror.command('rules').description('Notification rules: e-mail or chat messages when events match (docs/notifications.md).'),
    'learnhook mirror rules check docs/examples/notification-rules.yaml --last 200',
    'learnhook mirror rules load docs/examples/notification-rules.yaml --smtp-url smtp://mail.example.com:25',
    'learnhook mirror rules list',
  );
  const examples: Record<string, string[]> = {
    list: ['learnhook mirror rules list', 'learnhook mirror rules list --json --db postgres://postgres@127.0.0.1:5432/mirror'],
    add: ['learnhook mirror rules add more-rules.yaml', 'cat rule.json | learnhook mirror rules add - --no-channel-check'],
    load: [
      'learnhook mirror rules load rules.yaml',
      'TEAM_CHAT_WEBHOOK_URL=https://hooks.slack.com/services/T0/B0/X learnhook mirror rules load docs/examples/notification-rules.yaml --smtp-url smtp://mail.example.com:25',
    ],
    remove: ['learnhook mirror rules remove seats-free-again'],
    check: ['learnhook mirror rules check docs/examples/notification-rules.yaml --last 200'],
    flush: ['learnhook mirror rules flush daily-completions', 'learnhook mirror rules flush'],
    test: ['learnhook mirror rules test failed-certification --smtp-url smtp://mail.example.com:25'],
  };
  const withSettings = (command: Command) => withExamples(addSettingOptions(command, 'mirror'), ...(examples[command.name()] ?? []));

  withSettings(rules.command('list').description('List the rules with their sends, pending messages and last failure.'))
    .option('--json', 'print JSON')
    .action(async (_options: unknown, command: Command) => {
      const options = command.optsWithGlobals();
      const { listRules } = await import('../mirror/notify/rules-store.ts');
      const summaries = await withDatabase(settingsFromOptions(options), (database) => listRules(database.db));
      if (options.json) {
        process.stdout.write(`${JSON.stringify(summaries, null, 2)}\n`);
        return;
      }
      if (summaries.length === 0) {
        process.stdout.write('no rules; add some with: learnhook mirror rules load rules.yaml\n');
        return;
      }
      for (const rule of summaries) {
        const d = rule.definition;
        const channel = d.channel.type === 'email' ? `e-mail to ${d.channel.to.join(', ')}` : `chat ${new URL(d.channel.url).host}`;
        process.stdout.write(
          `${[
            `${d.name}${d.enabled === false ? ' (disabled)' : ''}: ${d.events.join(', ')} → ${channel}${d.digest ? `, digest ${d.digest}` : ''}`,
            d.condition ? `  condition  ${d.condition}` : '',
            `  sent ${rule.sent}, pending ${rule.pending}, given up ${rule.failed}${rule.inDoubt ? `, in doubt ${rule.inDoubt}` : ''}; last sent ${when(rule.lastSentAt)}`,
            rule.lastFailure ? `  last failure ${rule.lastFailure.at}: ${rule.lastFailure.error}` : '',
          ]
            .filter(Boolean)
            .join('\n')}\n`,
        );
      }
    });

  withSettings(
    rules
      .command('add')
      .description('Add the rules of a YAML or JSON file (- for stdin), replacing rules of the same name; others stay.')
      .argument('<file>', 'rules file'),
  )
    .option('--no-channel-check', 'store the rules even if a channel does not answer now')
    .action(async (file: string, _options: unknown, command: Command) => store(file, command.optsWithGlobals(), false));

  withSettings(
    rules
      .command('load')
      .description(
        'Make the rules file the whole rule set: add and replace its rules, remove the others (their unsent messages are cancelled).',
      )
      .argument('<file>', 'rules file'),
  )
    .option('--no-channel-check', 'store the rules even if a channel does not answer now')
    .action(async (file: string, _options: unknown, command: Command) => store(file, command.optsWithGlobals(), true));

  withSettings(
    rules.command('remove').description('Remove rules by name (their unsent messages are cancelled).').argument('<names...>', 'rule names'),
  ).action(async (names: string[], _options: unknown, command: Command) => {
    const settings = settingsFromOptions(command.optsWithGlobals());
    const { removeRules } = await import('../mirror/notify/rules-store.ts');
    const removed = await withDatabase(settings, (database) => removeRules(database.db, names));
    const missing = names.filter((name) => !removed.includes(name));
    if (removed.length > 0) process.stdout.write(`removed ${removed.join(', ')}\n`);
    if (missing.length > 0) throw new ConfigError(`no rule named ${missing.map((name) => `"${name}"`).join(', ')}`);
  });

  withSettings(
    rules
      .command('check')
      .description('Check a rules file and show which rules the last N events in the mirror would have fired (a dry run: sends nothing).')
      .argument('<file>', 'rules file'),
  )
    .option('--last <n>', 'how many of the latest events to try', '50')
    .option('--json', 'print JSON')
    .action(async (file: string, _options: unknown, command: Command) => {
      const options = command.optsWithGlobals();
      const last = Number(options.last);
      if (!Number.isSafeInteger(last) || last < 1 || last > 100_000)
        throw new ConfigError(`--last: "${options.last}" is not a number from 1 to 100000`);
      const settings = settingsFromOptions(options);
      const definitions = await readRules(file);
      const { checkRules: dryRun } = await import('../mirror/notify/check-rules.ts');
      const report = await withDatabase(settings, (database) =>
        dryRun(database.db, definitions, { last, now: Date.now(), digestWindowMs: settings.notifyDigestWindowMs }),
      );
      if (options.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      process.stdout.write(`${file}: ${definitions.length} rule${definitions.length === 1 ? '' : 's'}, valid\n`);
      process.stdout.write(`the last ${report.events.length} events in the mirror:\n`);
      for (const event of report.events) {
        const outcome = event.skipped
          ? `nobody (${event.skipped})`
          : event.fired.length === 0
            ? '-'
            : event.fired.map((fired) => `${fired.rule}${fired.digest ? ' (digest)' : ''}`).join(', ');
        process.stdout.write(`  ${event.timestamp}  ${event.eventName.padEnd(38)} ${event.eventId}  → ${outcome}\n`);
      }
      process.stdout.write('would fire:\n');
      for (const [rule, count] of Object.entries(report.counts)) process.stdout.write(`  ${rule}: ${count}\n`);
    });

  withSettings(
    rules
      .command('flush')
      .description('Send the open digests of the named rules (all rules when none is named) now, not at the end of their window.')
      .argument('[names...]', 'rule names'),
  ).action(async (names: string[], _options: unknown, command: Command) => {
    const settings = settingsFromOptions(command.optsWithGlobals());
    const { flushDigests } = await import('../mirror/notify/rules-store.ts');
    const count = await withDatabase(settings, (database) => flushDigests(database.db, names, Date.now()));
    process.stdout.write(`${count} open digest${count === 1 ? '' : 's'} due now; a running mirror sends them\n`);
  });

  withSettings(
    rules
      .command('test')
      .description("Send one test message through a rule's channel now, built from the catalog's sample of its first event.")
      .argument('<name>', 'rule name'),
  ).action(async (name: string, _options: unknown, command: Command) => {
    const settings = settingsFromOptions(command.optsWithGlobals());
    const { Channels } = await import('../mirror/notify/channels.ts');
    const { sendTestMessage } = await import('../mirror/notify/send-test-message.ts');
    const { createMirrorContext } = await import('../mirror/mirror-context.ts');
    await withDatabase(settings, async (database) => {
      const context = createMirrorContext(settings, database);
      const channels = new Channels(settings);
      try {
        const result = await sendTestMessage(context, channels, name);
        if (!result.ok) throw new ConfigError(`the test of "${name}" failed: ${result.detail}`);
        process.stdout.write(`test of "${name}" sent: ${result.subject} → ${result.detail}\n`);
      } catch (error) {
        if (error instanceof DomainError) throw new ConfigError(error.message);
        throw error;
      } finally {
        channels.close();
      }
    });
  });
}
