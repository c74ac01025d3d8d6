// The `learnhook mirror` command: run the consumer, or import the platform's CSV reports into its tables.
import type { Command } from 'commander';
import { mirrorDatabaseUrl, mirrorPort, startMirror } from '../mirror/start-mirror.ts';
import { redactUrl } from '../store/database.ts';
import { addSettingOptions, settingsFromOptions } from './options.ts';

/** Registers `mirror` on the program; `stopOnSignals` is the CLI's shutdown handler. */
export function addMirrorCommand(program: Command, stopOnSignals: (stop: () => Promise<void>) => void): void {
  addSettingOptions(
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
}
