// `learnhook webhooks …`: manage an account's webhooks through the HTTP API (list, create, show, update, delete, test, replay, stats, deliveries).
import type { Command } from 'commander';
import { request } from 'undici';
import { loadSettings } from '../config.ts';

interface Connection {
  api: string;
  token: string;
  account: string;
}

function connectionOf(command: Command): Connection {
  const options = command.optsWithGlobals<{ api?: string; token?: string; account?: string }>();
  const settings = loadSettings();
  const api = (options.api ?? settings.api).replace(/\/+$/, '');
  const token = options.token ?? settings.apiToken;
  if (!api) throw new WebhookCliError('give the API base URL with --api (or LEARNHOOK_API), e.g. --api http://127.0.0.1:8080');
  if (!token) throw new WebhookCliError('give a token with --token (or LEARNHOOK_API_TOKEN): the admin token or the account token');
  if (!options.account) throw new WebhookCliError('give the account id with --account');
  return { api, token, account: options.account };
}

class WebhookCliError extends Error {
  override name = 'WebhookCliError';
}

async function call(connection: Connection, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<unknown> {
  const url = `${connection.api}/v1/accounts/${encodeURIComponent(connection.account)}/webhooks${path}`;
  let response: Awaited<ReturnType<typeof request>>;
  try {
    response = await request(url, {
      method,
      // One request per command: no keep-alive socket that would hold the process open after it.
      reset: true,
      headers: { authorization: `Bearer ${connection.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? null : JSON.stringify(body),
    });
  } catch (error) {
    throw new WebhookCliError(`cannot reach ${connection.api}: ${(error as Error).message}`);
  }
  const text = await response.body.text();
  const json = text ? (JSON.parse(text) as { error?: { message?: string } }) : null;
  if (response.statusCode >= 400)
    throw new WebhookCliError(`${method} ${url} answered ${response.statusCode}: ${json?.error?.message ?? text}`);
  return json;
}

function list(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

function authOf(options: { auth?: string; username?: string; password?: string }): Record<string, string> | undefined {
  if (!options.auth) return undefined;
  if (options.auth === 'basic') {
    if (!options.username || !options.password) throw new WebhookCliError('--auth basic needs --username and --password');
    return { type: 'basic', username: options.username, password: options.password };
  }
  if (options.auth !== 'none' && options.auth !== 'signature') throw new WebhookCliError('--auth is none, basic or signature');
  return { type: options.auth };
}

/** Runs a subcommand and prints its JSON answer; an error is printed as one sentence and sets exit code 1. */
function action<Args extends unknown[]>(run: (connection: Connection, ...args: Args) => Promise<unknown>) {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    try {
      const result = await run(connectionOf(command), ...(args.slice(0, -1) as Args));
      if (result !== null && result !== undefined) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } catch (error) {
      if (!(error instanceof WebhookCliError)) throw error;
      process.stderr.write(`learnhook: ${error.message}\n`);
      process.exitCode = 1;
    }
  };
}

export function addWebhookCommands(program: Command): void {
  const webhooks = program
    .command('webhooks')
    .description("Manage an account's webhooks through the API.")
    .option('--api <url>', 'base URL of a running learnhook serve [env LEARNHOOK_API]')
    .option('--token <token>', 'admin or account token [env LEARNHOOK_API_TOKEN]')
    .option('--account <id>', 'account id');

  webhooks
    .command('list')
    .description("List the account's webhooks.")
    .action(action(async (connection) => call(connection, 'GET', '')));

  webhooks
    .command('create')
    .description('Register a webhook; a signature secret is printed once.')
    .requiredOption('--name <name>', 'name')
    .requiredOption('--url <url>', 'http(s) URL of the receiver')
    .requiredOption('--events <names>', 'comma-separated catalog event names')
    .option('--description <text>', 'description')
    .option('--auth <type>', 'none, basic or signature (default signature)')
    .option('--username <user>', 'basic auth user')
    .option('--password <password>', 'basic auth password')
    .option('--inactive', 'register it paused')
    .action(
      action(async (connection, options: Record<string, string | boolean | undefined>) =>
        call(connection, 'POST', '', {
          name: options.name,
          url: options.url,
          events: list(String(options.events)),
          ...(options.description ? { description: options.description } : {}),
          ...(options.auth ? { auth: authOf(options as { auth?: string; username?: string; password?: string }) } : {}),
          ...(options.inactive ? { active: false } : {}),
        }),
      ),
    );

  webhooks
    .command('show <webhookId>')
    .description('Show a webhook.')
    .action(action(async (connection, id: string) => call(connection, 'GET', `/${encodeURIComponent(id)}`)));

  webhooks
    .command('update <webhookId>')
    .description('Change a webhook; --enable re-enables it from its cursor.')
    .option('--name <name>', 'name')
    .option('--url <url>', 'URL')
    .option('--events <names>', 'comma-separated catalog event names')
    .option('--description <text>', 'description')
    .option('--auth <type>', 'none, basic or signature')
    .option('--username <user>', 'basic auth user')
    .option('--password <password>', 'basic auth password')
    .option('--enable', 'activate (re-enable) it')
    .option('--disable', 'pause it')
    .action(
      action(async (connection, id: string, options: Record<string, string | boolean | undefined>) => {
        const changes: Record<string, unknown> = {};
        for (const key of ['name', 'url', 'description'] as const) if (typeof options[key] === 'string') changes[key] = options[key];
        if (typeof options.events === 'string') changes.events = list(options.events);
        const auth = authOf(options as { auth?: string; username?: string; password?: string });
        if (auth) changes.auth = auth;
        if (options.enable) changes.active = true;
        if (options.disable) changes.active = false;
        if (Object.keys(changes).length === 0) throw new WebhookCliError('nothing to change: give at least one option');
        return call(connection, 'PATCH', `/${encodeURIComponent(id)}`, changes);
      }),
    );

  webhooks
    .command('delete <webhookId>')
    .description('Delete a webhook.')
    .action(
      action(async (connection, id: string) => {
        await call(connection, 'DELETE', `/${encodeURIComponent(id)}`);
        return { deleted: id };
      }),
    );

  webhooks
    .command('rotate-secret <webhookId>')
    .description('New signing secret (printed once); the old one keeps signing for --secret-overlap.')
    .action(action(async (connection, id: string) => call(connection, 'POST', `/${encodeURIComponent(id)}/rotate-secret`)));

  webhooks
    .command('test <webhookId>')
    .description('Send one sample event now and print the answer.')
    .action(action(async (connection, id: string) => call(connection, 'POST', `/${encodeURIComponent(id)}/test`)));

  webhooks
    .command('replay <webhookId>')
    .description('Re-deliver the events logged since a time, as batches flagged learnhook-replay: true.')
    .requiredOption('--since <time>', 'ISO-8601 time, e.g. 2026-01-31T00:00:00Z')
    .action(
      action(async (connection, id: string, options: { since: string }) =>
        call(connection, 'POST', `/${encodeURIComponent(id)}/replay`, { since: options.since }),
      ),
    );

  webhooks
    .command('stats <webhookId>')
    .description('Cursor, backlog, lag, failing since, next attempt, lost events, state.')
    .action(action(async (connection, id: string) => call(connection, 'GET', `/${encodeURIComponent(id)}/stats`)));

  webhooks
    .command('deliveries <webhookId>')
    .description('The attempts log, newest first.')
    .option('--limit <n>', 'attempts per page (1-500)', '50')
    .option('--before <attemptId>', 'show attempts older than this one (the `next` of the previous page)')
    .action(
      action(async (connection, id: string, options: { limit: string; before?: string }) =>
        call(
          connection,
          'GET',
          `/${encodeURIComponent(id)}/deliveries?limit=${encodeURIComponent(options.limit)}${options.before ? `&before=${encodeURIComponent(options.before)}` : ''}`,
        ),
      ),
    );
}
