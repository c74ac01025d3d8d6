// `learnhook mirror` (the consumer), `mirror import` (CSV reports) and `mirror retry-failed` (set-aside inbox rows).
import type { Command } from 'commander';
import { apiBase } from './api-connection.ts';
import { CliError, noteDatabase } from './cli-error.ts';
import { withExamples } from './help.ts';
import { addRulesCommands } from './mirror-rules.ts';
import { addSettingOptions, settingsFromOptions } from './options.ts';
import { stopOnSignals } from './signals.ts';

async function runMirror(options: Record<string, unknown>): Promise<void> {
  const given = settingsFromOptions(options);
  // The mirror has its own port setting (LEARNHOOK_MIRROR_PORT, 8090), so serve's LEARNHOOK_PORT never applies to it.
  const settings = { ...given, port: given.mirrorPort, api: given.api ? apiBase(given.api) : '' };
  const { mirrorDatabaseUrl, startMirror } = await import('../mirror/start-mirror.ts');
  const { redactUrl } = await import('../store/database.ts');
  noteDatabase(mirrorDatabaseUrl(settings));
  const running = await startMirror(settings);
  const lines = [
    'learnhook mirror is running',
    `  database  ${redactUrl(mirrorDatabaseUrl(settings))}`,
    `  webhook   ${running.url}/webhook   (point a webhook here)`,
    `  status    ${running.url}/status`,
    `  metrics   ${running.url}/metrics`,
    `  rules     ${running.url}/rules`,
    `  enrich    ${settings.api ? `${settings.api}/primeapi/v2` : 'off (give --api and --api-token)'}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  stopOnSignals(running.stop);
}

async function runImport(kind: string, file: string, options: Record<string, unknown>): Promise<void> {
  const fs = await import('node:fs');
  if (kind !== 'users' && kind !== 'training') throw new CliError(`"${kind}" is not a report: use users or training`, 2);
  const accountId = Number(options.account);
  if (!Number.isSafeInteger(accountId) || accountId < 1) throw new CliError('--account: give the account id the report belongs to', 2);
  if (!fs.existsSync(file)) throw new CliError(`${file}: no such file`, 2);
  const settings = settingsFromOptions(options);
  const { importReport, ReportError } = await import('../mirror/import-report.ts');
  const { mirrorDatabaseUrl } = await import('../mirror/start-mirror.ts');
  const { openDatabase, redactUrl } = await import('../store/database.ts');
  const { migrate } = await import('../store/migrate.ts');
  const { progressOnTerminal } = await import('./progress.ts');
  const url = mirrorDatabaseUrl(settings);
  noteDatabase(url);
  const database = await openDatabase<import('../mirror/schema.ts').MirrorSchema>(url);
  const size = fs.statSync(file).size;
  const input = fs.createReadStream(file);
  let read = 0;
  let rowsSoFar = 0;
  try {
    await migrate(database as Parameters<typeof migrate>[0], 'mirror');
    // A bar on a terminal; nothing in a pipe or a log but the final line.
    const progress = await progressOnTerminal(`${kind} report |{bar}| {percentage}% | {rows} rows`, size, { rows: 0 });
    input.on('data', (chunk) => {
      read += chunk.length;
      progress.update(read, { rows: rowsSoFar });
    });
    try {
      const result = await importReport(database, kind, input, {
        accountId,
        now: Date.now(),
        onRows: (rows) => {
          rowsSoFar = rows;
          progress.update(read, { rows });
        },
      });
      progress.update(size, { rows: result.rows });
      progress.stop();
      const what =
        kind === 'users' ? `${result.users} users` : `${result.learningObjects} learning objects and ${result.instances} instances`;
      process.stdout.write(`imported ${result.rows} rows (${what}) into ${redactUrl(url)}\n`);
    } catch (error) {
      if (error instanceof ReportError) throw new CliError(`${file}: ${error.message}`, 2);
      throw error;
    } finally {
      progress.stop();
    }
  } finally {
    input.destroy();
    await database.close();
  }
}

async function runRetryFailed(ids: string[], options: Record<string, unknown>): Promise<void> {
  const wrong = ids.find((id) => !/^[1-9]\d*$/.test(id));
  if (wrong !== undefined) throw new CliError(`"${wrong}" is not an inbox row id`, 2);
  const settings = settingsFromOptions(options);
  const { retryFailed } = await import('../mirror/retry-failed.ts');
  const { mirrorDatabaseUrl } = await import('../mirror/start-mirror.ts');
  const { openDatabase, redactUrl } = await import('../store/database.ts');
  const { migrate } = await import('../store/migrate.ts');
  const url = mirrorDatabaseUrl(settings);
  noteDatabase(url);
  const database = await openDatabase<import('../mirror/schema.ts').MirrorSchema>(url);
  try {
    await migrate(database as Parameters<typeof migrate>[0], 'mirror');
    const { rows, heldEvents } = await retryFailed(database, ids.map(Number));
    process.stdout.write(
      `${rows} set-aside inbox row${rows === 1 ? '' : 's'} and ${heldEvents} held event${heldEvents === 1 ? '' : 's'} put back in line in ${redactUrl(url)}; a running mirror applies them\n`,
    );
  } finally {
    await database.close();
  }
}

/** Registers `mirror`, `mirror import`, `mirror retry-failed` and `mirror rules …` on the program. */
export function addMirrorCommand(program: Command): void {
  const mirror = withExamples(
    addSettingOptions(
      program
        .command('mirror')
        .description("Receive webhook deliveries and mirror the events into your own database (the guide's consumer)."),
      'mirror',
    ),
    'learnhook mirror --secret whsec_…',
    'learnhook mirror --port 8090 --db postgres://postgres@127.0.0.1:5432/mirror --secret whsec_… --api http://127.0.0.1:8080 --api-token lh_admin_…',
  ).action(runMirror);

  withExamples(
    addSettingOptions(
      mirror
        .command('import')
        .description(
          'Import a CSV report of the platform (users.csv or training.csv from /primeapi/v2/reports) into the mirror; safe to repeat.',
        )
        .argument('<report>', 'users or training')
        .argument('<file>', 'the CSV file')
        .requiredOption('--account <id>', 'the account the report belongs to'),
      'migrate',
    ),
    'learnhook mirror import users users.csv --account 1',
    'learnhook mirror import training training.csv --account 1 --db postgres://postgres@127.0.0.1:5432/mirror',
  ).action(async (report: string, file: string, _options: unknown, command: Command) => {
    // Flags such as --db may be read by `mirror` itself when they follow `import`: take both levels.
    await runImport(report, file, command.optsWithGlobals());
  });

  withExamples(
    addSettingOptions(
      mirror
        .command('retry-failed')
        .description(
          'Put inbox rows that were set aside after --projection-attempts failures, and events held because they could not be read or stored, back in line (all of them, or those of the inbox rows given); nothing was deleted.',
        )
        .argument('[ids...]', 'inbox row ids (GET /status counts them; the anomalies and held_events tables name them)'),
      'migrate',
    ),
    'learnhook mirror retry-failed',
    'learnhook mirror retry-failed 412 413 --db sqlite:.learnhook/mirror.db',
  ).action(async (ids: string[], _options: unknown, command: Command) => {
    await runRetryFailed(ids, command.optsWithGlobals());
  });

  addRulesCommands(mirror);
}
