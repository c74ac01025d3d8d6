// `learnhook serve`, `worker` and `migrate`: the producer's commands. Their code loads only when one of them runs.
import v8 from 'node:v8';
import type { Command } from 'commander';
import type { Settings } from '../config.ts';
import type { RunningProducer } from '../server.ts';
import { noteDatabase } from './cli-error.ts';
import { withExamples } from './help.ts';
import { addSettingOptions, settingsFromOptions } from './options.ts';
import { stopOnSignals } from './signals.ts';

async function printStarted(producer: RunningProducer, what: string): Promise<void> {
  const { redactUrl } = await import('../store/database.ts');
  const { databaseUrl } = await import('../server.ts');
  const { settings } = producer.context;
  const lines = [`learnhook ${what} is running`, `  database    ${redactUrl(databaseUrl(settings))}`];
  if (producer.deliveryThread) lines.push('  delivery    on a thread of its own (--delivery-thread)');
  if (producer.url) {
    lines.push(
      `  API         ${producer.url}/v1   (pass ${producer.url} or this URL as --api)`,
      `  API docs    ${producer.url}/docs`,
      `  admin token ${settings.adminToken}`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function startAndPrint(settings: Settings, what: 'serve' | 'worker', options: { http: boolean; dispatch: boolean }): Promise<void> {
  // Process-wide, so set by the command, never by startProducer (tests run many producers in one process).
  if (settings.heapGrowth > 0) v8.setFlagsFromString(`--heap-growing-percent=${settings.heapGrowth}`);
  const { databaseUrl, deliversInThread, startProducer } = await import('../server.ts');
  noteDatabase(databaseUrl(settings));
  const dispatch = options.dispatch && what === 'serve' && deliversInThread(settings) ? 'thread' : options.dispatch;
  const producer = await startProducer(settings, { ...options, dispatch });
  await printStarted(producer, what);
  stopOnSignals(producer.stop, producer.failed);
}

export function addProducerCommands(program: Command): void {
  withExamples(
    addSettingOptions(
      program
        .command('serve')
        .description('Run the platform API, the public read API and the webhook dispatcher.')
        .option('--no-dispatch', 'serve the API without delivering webhooks (run `learnhook worker` to deliver)'),
      'serve',
    ),
    'learnhook serve --port 8080 --allow-private-targets',
    'learnhook serve --db postgres://postgres@127.0.0.1:5432/learnhook --retry-initial 1s --retention 1h',
  ).action(async (options: Record<string, unknown>) => {
    await startAndPrint(settingsFromOptions(options), 'serve', { http: true, dispatch: options.dispatch !== false });
  });

  withExamples(
    addSettingOptions(program.command('worker').description('Deliver webhooks from a shared database without serving HTTP.'), 'worker'),
    'learnhook worker --db postgres://postgres@127.0.0.1:5432/learnhook --concurrency 64',
  ).action(async (options: Record<string, unknown>) => {
    await startAndPrint(settingsFromOptions(options), 'worker', { http: false, dispatch: true });
  });

  withExamples(
    addSettingOptions(
      program
        .command('migrate')
        .description('Bring a database up to date and exit (serve, worker and mirror also do this at start).')
        .option('--schema <name>', 'producer (the platform and delivery) or mirror', 'producer'),
      'migrate',
    ),
    'learnhook migrate --db postgres://postgres@127.0.0.1:5432/learnhook',
    'learnhook migrate --schema mirror --db sqlite:.learnhook/mirror.db',
  ).action(async (options: Record<string, unknown>) => {
    const settings = settingsFromOptions(options);
    if (options.schema !== 'mirror' && options.schema !== 'producer')
      throw new (await import('./cli-error.ts')).CliError(`--schema: "${String(options.schema)}" is not producer or mirror`, 2);
    const schema = options.schema;
    const { databaseUrl } = await import('../server.ts');
    const { openDatabase, redactUrl } = await import('../store/database.ts');
    const { migrate } = await import('../store/migrate.ts');
    const { progressOnTerminal } = await import('./progress.ts');
    const url = databaseUrl(settings, schema === 'mirror' ? 'mirror.db' : 'learnhook.db');
    noteDatabase(url);
    const database = await openDatabase(url);
    const progress = await progressOnTerminal('migrating |{bar}| {value}/{total} {name}', 0, { name: '' });
    try {
      const applied = await migrate(database, schema, Date.now(), (name, index, pending) => {
        progress.setTotal(pending);
        progress.update(index, { name });
      });
      progress.update(applied.length, { name: 'done' });
      progress.stop();
      process.stdout.write(applied.length ? `applied ${applied.join(', ')} to ${redactUrl(url)}\n` : `${redactUrl(url)} is up to date\n`);
    } finally {
      progress.stop();
      await database.close();
    }
  });
}
