// The learnhook command line: serve, worker, migrate, catalog export (and the commands other capabilities add).
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { exportCatalog } from '../catalog/export-catalog.ts';
import { ConfigError } from '../config.ts';
import { createLogger } from '../context.ts';
import { databaseUrl, type RunningProducer, startProducer } from '../server.ts';
import { DatabaseUrlError, openDatabase, redactUrl } from '../store/database.ts';
import { migrate } from '../store/migrate.ts';
import { addMirrorCommand } from './mirror.ts';
import { addSettingOptions, settingsFromOptions } from './options.ts';
import { addSimulateCommands } from './simulate.ts';
import { addWebhookCommands } from './webhooks.ts';

const version = '0.1.0';

/** Stops the running parts on Ctrl-C or SIGTERM, once. */
function stopOnSignals(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${signal} received, shutting down…\n`);
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`shutdown failed: ${(error as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => handler('SIGINT'));
  process.once('SIGTERM', () => handler('SIGTERM'));
}

function printStarted(producer: RunningProducer, what: string): void {
  const { settings } = producer.context;
  const lines = [`learnhook ${what} is running`, `  database    ${redactUrl(databaseUrl(settings))}`];
  if (producer.url) {
    lines.push(`  API         ${producer.url}/v1`, `  OpenAPI     ${producer.url}/docs`, `  admin token ${settings.adminToken}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

export function buildProgram(): Command {
  const program = new Command('learnhook')
    .description("A learning platform's webhook system: the platform, ordered signed delivery, and a mirror of the events.")
    .version(version)
    .showHelpAfterError();

  addSettingOptions(
    program
      .command('serve')
      .description('Run the platform API, the public read API and the webhook dispatcher.')
      .option('--no-dispatch', 'serve the API without delivering webhooks (run `learnhook worker` to deliver)'),
    'serve',
  ).action(async (options: Record<string, unknown>) => {
    const settings = settingsFromOptions(options);
    const producer = await startProducer(settings, { dispatch: options.dispatch !== false });
    printStarted(producer, 'serve');
    stopOnSignals(producer.stop);
  });

  addSettingOptions(
    program.command('worker').description('Deliver webhooks from a shared database without serving HTTP.'),
    'worker',
  ).action(async (options: Record<string, unknown>) => {
    const settings = settingsFromOptions(options);
    const producer = await startProducer(settings, { http: false, dispatch: true });
    printStarted(producer, 'worker');
    stopOnSignals(producer.stop);
  });

  addSettingOptions(
    program
      .command('migrate')
      .description('Bring a database up to date and exit (serve, worker and mirror also do this at start).')
      .option('--schema <name>', 'producer (the platform and delivery) or mirror', 'producer'),
    'migrate',
  ).action(async (options: Record<string, unknown>) => {
    const settings = settingsFromOptions(options);
    const schema = options.schema === 'mirror' ? 'mirror' : 'producer';
    const url = databaseUrl(settings, schema === 'mirror' ? 'mirror.db' : 'learnhook.db');
    const database = await openDatabase(url);
    try {
      const applied = await migrate(database, schema);
      process.stdout.write(applied.length ? `applied ${applied.join(', ')} to ${redactUrl(url)}\n` : `${redactUrl(url)} is up to date\n`);
    } finally {
      await database.close();
    }
  });

  addMirrorCommand(program, stopOnSignals);
  addWebhookCommands(program);
  addSimulateCommands(program);

  const catalog = program.command('catalog').description('The event catalog.');
  catalog
    .command('export')
    .description('Write the JSON Schema of every event and the envelope, and an AsyncAPI 3 document.')
    .option('--out <folder>', 'folder to write into', 'schemas')
    .action((options: { out: string }) => {
      const written = exportCatalog(path.resolve(options.out), version);
      process.stdout.write(`wrote ${written.length} files under ${options.out}\n`);
    });

  return program;
}

/** Runs the CLI; errors an operator can fix are printed as one plain sentence, without a stack. */
export async function main(argv: readonly string[]): Promise<void> {
  const program = buildProgram().exitOverride();
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    if (error instanceof CommanderError) process.exit(error.exitCode);
    if (error instanceof ConfigError || error instanceof DatabaseUrlError) {
      process.stderr.write(`learnhook: ${error.message}\n`);
      process.exit(2);
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      process.stderr.write(`learnhook: the port is already in use (${(error as Error).message}); choose another with --port\n`);
      process.exit(2);
    }
    if (code === 'ECONNREFUSED') {
      process.stderr.write(`learnhook: cannot reach the database (${(error as Error).message}); is it running, and is --db right?\n`);
      process.exit(2);
    }
    createLogger('error').error({ err: error }, 'learnhook stopped on an unexpected error');
    process.exit(1);
  }
}
