// The `learnhook mirror` command: run the consumer, import the platform's CSV reports, or retry set-aside inbox rows.
import fs from 'node:fs';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { ConfigError } from '../config.ts';
import { importReport, ReportError, type ReportKind } from '../mirror/import-report.ts';
import { retryFailed } from '../mirror/retry-failed.ts';
import type { MirrorSchema } from '../mirror/schema.ts';
import { mirrorDatabaseUrl, mirrorPort, startMirror } from '../mirror/start-mirror.ts';
import { openDatabase, redactUrl } from '../store/database.ts';
import { migrate } from '../store/migrate.ts';
import { addSettingOptions, settingsFromOptions } from './options.ts';

async function runImport(kind: string, file: string, options: Record<string, unknown>): Promise<void> {
  if (kind !== 'users' && kind !== 'training') throw new ConfigError(`"${kind}" is not a report: use users or training`);
  const accountId = Number(options.account);
  if (!Number.isSafeInteger(accountId) || accountId < 1) throw new ConfigError('--account: give the account id the report belongs to');
  if (!fs.existsSync(file)) throw new ConfigError(`${file}: no such file`);
  const settings = settingsFromOptions(options);
  const url = mirrorDatabaseUrl(settings);
  const database = await openDatabase<MirrorSchema>(url);
  const size = fs.statSync(file).size;
  const input = fs.createReadStream(file);
  // A bar on a terminal; plain counts (one line per 10 000 rows) in logs and pipes.
  const bar = process.stderr.isTTY ? new SingleBar({ format: `${kind} report |{bar}| {percentage}% | {rows} rows` }) : undefined;
  let read = 0;
  input.on('data', (chunk) => {
    read += chunk.length;
    bar?.update(read, {});
  });
  try {
    await migrate(database as Parameters<typeof migrate>[0], 'mirror');
    bar?.start(size, 0, { rows: 0 });
    const result = await importReport(database, kind as ReportKind, input, {
      accountId,
      now: Date.now(),
      onRows: (rows) => {
        if (bar) bar.update(read, { rows });
        else if (rows % 10_000 < 500) process.stderr.write(`${rows} rows imported\n`);
      },
    });
    bar?.update(size, { rows: result.rows });
    bar?.stop();
    const what =
      kind === 'users' ? `${result.users} users` : `${result.learningObjects} learning objects and ${result.instances} instances`;
    process.stdout.write(`imported ${result.rows} rows (${what}) into ${redactUrl(url)}\n`);
  } finally {
    bar?.stop();
    await database.close();
  }
}

async function runRetryFailed(ids: string[], options: Record<string, unknown>): Promise<void> {
  const wrong = ids.find((id) => !/^[1-9]\d*$/.test(id));
  if (wrong !== undefined) throw new ConfigError(`"${wrong}" is not an inbox row id`);
  const url = mirrorDatabaseUrl(settingsFromOptions(options));
  const database = await openDatabase<MirrorSchema>(url);
  try {
    await migrate(database as Parameters<typeof migrate>[0], 'mirror');
    const count = await retryFailed(database, ids.map(Number));
    process.stdout.write(
      `${count} set-aside inbox row${count === 1 ? '' : 's'} put back in line in ${redactUrl(url)}; a running mirror applies them\n`,
    );
  } finally {
    await database.close();
  }
}

/** Registers `mirror`, `mirror import` and `mirror retry-failed` on the program; `stopOnSignals` is the CLI's shutdown handler. */
export function addMirrorCommand(program: Command, stopOnSignals: (stop: () => Promise<void>) => void): void {
  const mirror = addSettingOptions(
    program
      .command('mirror')
      .description("Receive webhook deliveries and mirror the events into your own database (the guide's consumer)."),
    'mirror',
  ).action(async (options: Record<string, unknown>) => {
    const given = settingsFromOptions(options);
    const settings = { ...given, port: mirrorPort(given, options.port !== undefined || given.port !== 8080) };
    const running = await startMirror(settings);
    const lines = [
      'learnhook mirror is running',
      `  database  ${redactUrl(mirrorDatabaseUrl(settings))}`,
      `  webhook   ${running.url}/webhook`,
      `  status    ${running.url}/status`,
      `  metrics   ${running.url}/metrics`,
      `  enrich    ${settings.api ? `${settings.api}/primeapi/v2` : 'off (give --api and --api-token)'}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    stopOnSignals(running.stop);
  });
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
  ).action(async (report: string, file: string, _options: unknown, command: Command) => {
    // Flags such as --db may be read by `mirror` itself when they follow `import`: take both levels.
    try {
      await runImport(report, file, command.optsWithGlobals());
    } catch (error) {
      if (!(error instanceof ReportError)) throw error;
      process.stderr.write(`learnhook: ${file}: ${error.message}\n`);
      process.exitCode = 2;
    }
  });
  addSettingOptions(
    mirror
      .command('retry-failed')
      .description(
        'Put inbox rows that were set aside after --projection-attempts failures back in line (all of them, or the ids given); nothing was deleted.',
      )
      .argument('[ids...]', 'inbox row ids (GET /status counts them; the anomalies table names them)'),
    'migrate',
  ).action(async (ids: string[], _options: unknown, command: Command) => {
    await runRetryFailed(ids, command.optsWithGlobals());
  });
}
