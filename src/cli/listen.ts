// `learnhook listen`: a local receiver that prints each delivery and checks its signature (like `stripe listen`).
import type { Command } from 'commander';
import { withExamples } from './help.ts';
import { durationOption, wholeNumber } from './parse-option.ts';
import { stopOnSignals } from './signals.ts';

export function addListenCommand(program: Command): void {
  withExamples(
    program
      .command('listen')
      .summary('A local receiver that prints each delivery and checks its signature (like `stripe listen`).')
      .description(
        'Receive deliveries on a local port and print each one (batch id, sequence range, every event with its key fields); ' +
          'with --secret, check the Standard Webhooks signature and answer 401 when it does not hold; with --forward, pass deliveries on and relay the answer.',
      )
      .option('--port <port>', 'port to listen on', '9000')
      .option('--host <address>', 'address to listen on', '127.0.0.1')
      .option(
        '--secret <secret>',
        'signing secret of the webhook (whsec_…; several separated by spaces); without it signatures are not checked',
      )
      .option('--forward <url>', 'pass each authentic delivery on to this URL (same body and headers) and answer with its status')
      .option('--signature-tolerance <duration>', 'largest age of webhook-timestamp accepted', '5m')
      .option('--body-limit <bytes>', 'largest body accepted', '10485760'),
    'learnhook listen --port 9000',
    'learnhook webhooks create --api http://127.0.0.1:8080 --token lh_admin_… --account 1 --name dev --listen 9000   # prints the listen line with its secret',
    'learnhook listen --port 9000 --secret whsec_… --forward http://127.0.0.1:3000/webhooks',
  ).action(async (options: Record<string, string | string[] | undefined>) => {
    const { startListener } = await import('../listen/start-listener.ts');
    const secrets = (Array.isArray(options.secret) ? options.secret : options.secret ? [options.secret] : []).flatMap((text) =>
      text.split(/\s+/).filter(Boolean),
    );
    const forward = typeof options.forward === 'string' ? options.forward : undefined;
    if (forward && !/^https?:\/\/[^/]/.test(forward))
      throw new (await import('./cli-error.ts')).CliError(`--forward: "${forward}" is not an http(s) URL`, 2);
    const listener = await startListener({
      port: wholeNumber('--port', String(options.port)),
      host: String(options.host),
      secrets,
      toleranceMs: durationOption('--signature-tolerance', String(options.signatureTolerance)),
      bodyLimit: wholeNumber('--body-limit', String(options.bodyLimit), 1),
      ...(forward ? { forward } : {}),
      print: (lines) => process.stdout.write(`${lines.join('\n')}\n`),
    });
    process.stdout.write(
      [
        `learnhook listen is receiving at ${listener.url}/ (any path)`,
        `  signatures  ${secrets.length ? `checked with ${secrets.length} secret${secrets.length === 1 ? '' : 's'}; forged or stale deliveries get 401` : 'not checked (give --secret whsec_…)'}`,
        `  forward     ${forward ?? 'off (answers 202 itself)'}`,
        '',
      ].join('\n'),
    );
    stopOnSignals(listener.close);
  });
}
