// `learnhook demo` (what `npm start` runs): everything on one machine, set up once and resumed on the next start.
// Its code loads only when it runs.
import type { Command } from 'commander';
import { CliError } from './cli-error.ts';
import { withExamples } from './help.ts';
import { addSettingOptions, settingsFromOptions } from './options.ts';
import { parseRate, wholeNumber } from './parse-option.ts';
import { stopOnSignals } from './signals.ts';

function port(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 65535) throw new CliError(`--mirror-port: "${text}" is not a port (0 to 65535)`, 2);
  return Number(text);
}

/** A shell-quoted path, for commands the user pastes. */
const quoted = (text: string) => (/^[\w./-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`);

export function addDemoCommand(program: Command): void {
  withExamples(
    addSettingOptions(
      program
        .command('demo')
        .description(
          'Run the platform, its dashboard and a mirror subscribed to every event, with a gentle simulated workload; run it again to resume.',
        )
        .option('--mirror-port <port>', 'port of the demo’s mirror (0: any free port)', '8090')
        .option('--rate <n/s>', 'platform actions per second of the workload (0: none)', '2/s')
        .option('--learners <n>', 'learners of the demo account', '12')
        .option('--seed <n>', 'seed of the workload’s random choices', '7'),
      'demo',
    ),
    'learnhook demo                              # what npm start runs',
    'learnhook demo --rate 5/s --port 3000 --mirror-port 3001',
    'learnhook demo --allow-private-targets      # let your own webhooks target localhost too',
  ).action(async (options: Record<string, unknown>) => {
    const given = settingsFromOptions(options);
    // A demo is watched in the dashboard: the terminal keeps its one block unless a log level is asked for, and
    // progress events come within seconds (not the guide's 15 minutes) so every event family shows in the first minute.
    const settings = {
      ...given,
      logLevel: options.logLevel === undefined && given.logLevel === 'info' ? 'warn' : given.logLevel,
      progressDelay:
        options.progressDelay === undefined && given.progressDelay.minMs === 0 && given.progressDelay.maxMs === 15 * 60_000
          ? { minMs: 0, maxMs: 20_000 }
          : given.progressDelay,
    };
    const rateText = String(options.rate);
    const rate = /^0+(\.0+)?(\/[smh])?$/.test(rateText) ? 0 : parseRate(rateText);
    const learners = wholeNumber('--learners', String(options.learners), 1);
    const seed = wholeNumber('--seed', String(options.seed));
    const path = await import('node:path');
    const { startDemo } = await import('../demo/start-demo.ts');
    const demo = await startDemo(settings, { mirrorPort: port(String(options.mirrorPort)), rate, learners, seed });
    // Relative when it lies under the current folder (short to paste); a --data-dir elsewhere keeps its own path.
    const relative = path.relative(process.cwd(), demo.mirrorDbPath);
    const db = quoted(relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : demo.mirrorDbPath);
    const query =
      'SELECT e.user_id, u.name, e.lo_instance_id, e.status, e.progress_percent FROM enrollments e LEFT JOIN users u USING (account_id, user_id) LIMIT 10';
    const lines = [
      `learnhook demo is running${demo.resumed ? ' (resumed)' : ''}; Ctrl-C stops it, running it again resumes`,
      `  dashboard    ${demo.signInUrl}`,
      '               (a one-time sign-in link; later, sign in with the admin token)',
      `  API docs     ${demo.docsUrl}`,
      `  admin token  ${demo.producer.context.settings.adminToken}`,
      `  mirror       ${demo.mirror.url}/  (its page; deliveries arrive at /webhook)`,
      `  mirror db    ${db}`,
      `  look inside  sqlite3 ${db} "${query}"`,
      `     or, without sqlite3: node -e "console.table(new (require('better-sqlite3'))('${demo.mirrorDbPath.replaceAll("'", "\\'")}',{readonly:true}).prepare('${query}').all())"`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    stopOnSignals(demo.stop);
  });
}
