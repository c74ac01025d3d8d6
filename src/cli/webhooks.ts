// `learnhook webhooks …`: manage an account's webhooks through the HTTP API (list, create, show, update, delete,
// rotate-secret, test, retry, replay, stats, deliveries).
import type { Command } from 'commander';
import type { PlatformClient } from '../simulate/platform-client.ts';
import { addApiOptions, apiConnection } from './api-connection.ts';
import { CliError } from './cli-error.ts';
import { withExamples } from './help.ts';
import { wholeNumber } from './parse-option.ts';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

interface Session {
  client: PlatformClient;
  /** `/v1/accounts/{id}/webhooks` */
  base: string;
}

const connect = '--api http://127.0.0.1:8080 --token lh_admin_… --account 1';

function list(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

function authOf(options: { auth?: string; username?: string; password?: string }): Record<string, string> | undefined {
  if (!options.auth) return undefined;
  if (options.auth === 'basic') {
    if (!options.username || !options.password) throw new CliError('--auth basic needs --username and --password', 2);
    return { type: 'basic', username: options.username, password: options.password };
  }
  if (options.auth !== 'none' && options.auth !== 'signature') throw new CliError('--auth is none, basic or signature', 2);
  return { type: options.auth };
}

/** Runs a subcommand with a client for the account's webhooks, and prints its JSON answer. */
function action<Args extends unknown[]>(run: (session: Session, ...args: Args) => Promise<unknown>) {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const connection = apiConnection(command);
    const account = command.optsWithGlobals<{ account?: string }>().account;
    if (!account) throw new CliError('give the account id with --account', 2);
    const accountId = wholeNumber('--account', account, 1);
    const { PlatformClient } = await import('../simulate/platform-client.ts');
    const client = new PlatformClient(connection.api, connection.token, 1);
    try {
      const result = await run({ client, base: `/v1/accounts/${accountId}/webhooks` }, ...(args.slice(0, -1) as Args));
      if (result !== null && result !== undefined) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } finally {
      await client.close();
    }
  };
}

const call = (session: Session, method: Method, path: string, body?: unknown) =>
  session.client.expect(method, `${session.base}${path}`, body);
const idPath = (id: string, rest = '') => `/${encodeURIComponent(id)}${rest}`;

/** After `replay`, follows the webhook's replay cursor until it is done: a bar on a terminal, silence in a pipe. */
async function followReplay(session: Session, id: string, range: { fromSeq: number; untilSeq: number }): Promise<void> {
  const { progressOnTerminal } = await import('./progress.ts');
  const { setTimeout: sleep } = await import('node:timers/promises');
  const total = range.untilSeq - range.fromSeq + 1;
  const progress = await progressOnTerminal('replay |{bar}| {value}/{total} events re-delivered {note}', total, { note: '' });
  try {
    for (;;) {
      const stats = (await call(session, 'GET', idPath(id, '/stats'))) as {
        replay: { cursor: number; until: number } | null;
        state: string;
        nextAttemptAt: string | null;
      };
      if (stats.replay === null) {
        progress.update(total, { note: 'done' });
        return;
      }
      const note =
        stats.state !== 'enabled'
          ? `(webhook ${stats.state})`
          : stats.nextAttemptAt
            ? `(failing; next attempt ${stats.nextAttemptAt})`
            : '';
      progress.update(Math.max(0, stats.replay.cursor - range.fromSeq + 1), { note });
      await sleep(500);
    }
  } finally {
    progress.stop();
  }
}

export function addWebhookCommands(program: Command): void {
  const webhooks = withExamples(
    addApiOptions(program.command('webhooks').description("Manage an account's webhooks through the API.")).option(
      '--account <id>',
      'account id (required)',
    ),
    `learnhook webhooks list ${connect}`,
    `learnhook webhooks create ${connect} --name mirror --url http://127.0.0.1:8090/webhook`,
  );

  withExamples(webhooks.command('list').description("List the account's webhooks."), `learnhook webhooks list ${connect}`).action(
    action(async (session) => call(session, 'GET', '')),
  );

  withExamples(
    webhooks
      .command('create')
      .description(
        'Register a webhook; its signature secret (whsec_…) is printed once. Without --events it receives every event of the catalog.',
      )
      .requiredOption('--name <name>', 'name')
      .option('--url <url>', 'http(s) URL of the receiver (required unless --listen)')
      .option('--listen <port>', 'point it at `learnhook listen --port PORT` on this machine, and print that command with the secret')
      .option('--events <names>', 'comma-separated catalog event names (`learnhook catalog list`), or all', 'all')
      .option('--description <text>', 'description')
      .option('--auth <type>', 'none, basic or signature (default signature)')
      .option('--username <user>', 'basic auth user')
      .option('--password <password>', 'basic auth password')
      .option('--inactive', 'register it paused'),
    `learnhook webhooks create ${connect} --name mirror --url http://127.0.0.1:8090/webhook`,
    `learnhook webhooks create ${connect} --name enrollments --url https://example.com/hook --events COURSE_ENROLLMENT,COURSE_COMPLETED`,
    `learnhook webhooks create ${connect} --name dev --listen 9000   # then run the printed learnhook listen line`,
  ).action(
    action(async (session, options: Record<string, string | boolean | undefined>) => {
      const listenPort = typeof options.listen === 'string' ? wholeNumber('--listen', options.listen, 1) : undefined;
      if (listenPort !== undefined && options.url) throw new CliError('give --url or --listen, not both', 2);
      const url = listenPort !== undefined ? `http://127.0.0.1:${listenPort}/` : options.url;
      if (!url) throw new CliError('give the receiver with --url URL, or --listen PORT for `learnhook listen`', 2);
      const created = (await call(session, 'POST', '', {
        name: options.name,
        url,
        events: list(String(options.events)),
        ...(options.description ? { description: options.description } : {}),
        ...(options.auth ? { auth: authOf(options as { auth?: string; username?: string; password?: string }) } : {}),
        ...(options.inactive ? { active: false } : {}),
      })) as { secret?: string };
      if (listenPort !== undefined)
        process.stderr.write(
          `receive its deliveries with:\n  learnhook listen --port ${listenPort}${created.secret ? ` --secret ${created.secret}` : ''}\n` +
            '(the platform must run with --allow-private-targets to deliver to 127.0.0.1)\n',
        );
      return created;
    }),
  );

  withExamples(webhooks.command('show <webhookId>').description('Show a webhook.'), `learnhook webhooks show wh_… ${connect}`).action(
    action(async (session, id: string) => call(session, 'GET', idPath(id))),
  );

  withExamples(
    webhooks
      .command('update <webhookId>')
      .description('Change a webhook; --enable re-enables it from its cursor (and retries at once).')
      .option('--name <name>', 'name')
      .option('--url <url>', 'URL')
      .option('--events <names>', 'comma-separated catalog event names, or all')
      .option('--description <text>', 'description')
      .option('--auth <type>', 'none, basic or signature')
      .option('--username <user>', 'basic auth user')
      .option('--password <password>', 'basic auth password')
      .option('--enable', 'activate (re-enable) it')
      .option('--disable', 'pause it'),
    `learnhook webhooks update wh_… ${connect} --events all`,
    `learnhook webhooks update wh_… ${connect} --enable`,
  ).action(
    action(async (session, id: string, options: Record<string, string | boolean | undefined>) => {
      const changes: Record<string, unknown> = {};
      for (const key of ['name', 'url', 'description'] as const) if (typeof options[key] === 'string') changes[key] = options[key];
      if (typeof options.events === 'string') changes.events = list(options.events);
      const auth = authOf(options as { auth?: string; username?: string; password?: string });
      if (auth) changes.auth = auth;
      if (options.enable) changes.active = true;
      if (options.disable) changes.active = false;
      if (Object.keys(changes).length === 0) throw new CliError('nothing to change: give at least one option', 2);
      return call(session, 'PATCH', idPath(id), changes);
    }),
  );

  withExamples(webhooks.command('delete <webhookId>').description('Delete a webhook.'), `learnhook webhooks delete wh_… ${connect}`).action(
    action(async (session, id: string) => {
      await call(session, 'DELETE', idPath(id));
      return { deleted: id };
    }),
  );

  withExamples(
    webhooks
      .command('rotate-secret <webhookId>')
      .description('New signing secret (printed once); the old one keeps signing for --secret-overlap.'),
    `learnhook webhooks rotate-secret wh_… ${connect}`,
  ).action(action(async (session, id: string) => call(session, 'POST', idPath(id, '/rotate-secret'))));

  withExamples(
    webhooks.command('test <webhookId>').description('Send one sample event now and print the answer.'),
    `learnhook webhooks test wh_… ${connect}`,
  ).action(action(async (session, id: string) => call(session, 'POST', idPath(id, '/test'))));

  withExamples(
    webhooks
      .command('retry <webhookId>')
      .description(
        'Retry now: a webhook waiting for its next scheduled attempt after failures is attempted at once (e.g. after fixing the receiver).',
      ),
    `learnhook webhooks retry wh_… ${connect}`,
  ).action(action(async (session, id: string) => call(session, 'POST', idPath(id, '/retry'))));

  withExamples(
    webhooks
      .command('replay <webhookId>')
      .description(
        'Re-deliver the events logged since a time, as batches flagged learnhook-replay: true. On a terminal it follows the replay with a progress bar.',
      )
      .requiredOption('--since <time>', 'ISO-8601 time, e.g. 2026-01-31T00:00:00Z')
      .option('--wait', 'wait until the replay is delivered (the default on a terminal)')
      .option('--no-wait', 'return at once, even on a terminal'),
    `learnhook webhooks replay wh_… ${connect} --since 2026-01-31T00:00:00Z`,
  ).action(
    action(async (session, id: string, options: { since: string; wait?: boolean }) => {
      const started = (await call(session, 'POST', idPath(id, '/replay'), { since: options.since })) as {
        fromSeq: number;
        untilSeq: number;
      };
      const wait = options.wait ?? process.stderr.isTTY;
      if (wait && started.fromSeq <= started.untilSeq) await followReplay(session, id, started);
      return started;
    }),
  );

  withExamples(
    webhooks.command('stats <webhookId>').description('Cursor, backlog, lag, failing since, next attempt, lost events, state.'),
    `learnhook webhooks stats wh_… ${connect}`,
  ).action(action(async (session, id: string) => call(session, 'GET', idPath(id, '/stats'))));

  withExamples(
    webhooks
      .command('deliveries <webhookId>')
      .description('The attempts log, newest first (status, error, duration and the start of the answer).')
      .option('--limit <n>', 'attempts per page (1-500)', '50')
      .option('--before <attemptId>', 'show attempts older than this one (the `next` of the previous page)'),
    `learnhook webhooks deliveries wh_… ${connect} --limit 10`,
  ).action(
    action(async (session, id: string, options: { limit: string; before?: string }) =>
      call(
        session,
        'GET',
        idPath(
          id,
          `/deliveries?limit=${encodeURIComponent(options.limit)}${options.before ? `&before=${encodeURIComponent(options.before)}` : ''}`,
        ),
      ),
    ),
  );
}
