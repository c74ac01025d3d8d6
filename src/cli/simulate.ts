// `learnhook simulate` (a workload through the platform API) and `learnhook trigger` (one sample event).
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { eventNames, isEventName, sampleEvent } from '../catalog/index.ts';
import { ConfigError, parseDuration } from '../config.ts';
import { PlatformClient } from '../simulate/platform-client.ts';
import { runWorkload } from '../simulate/run-workload.ts';

function wholeNumber(flag: string, text: string, minimum = 0): number {
  if (!/^\d+$/.test(text) || Number(text) < minimum)
    throw new ConfigError(`${flag}: "${text}" must be a whole number of at least ${minimum}`);
  return Number(text);
}

/** `--rate 20`, `--rate 20/s` or `--rate 300/m`, as actions per second. */
export function parseRate(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(?:\/(s|m|h))?$/.exec(text.trim());
  if (!match || Number(match[1]) <= 0) throw new ConfigError(`--rate: "${text}" is not a rate; write it like 20/s or 300/m`);
  const per = { s: 1, m: 60, h: 3600 }[(match[2] ?? 's') as 's' | 'm' | 'h'];
  return Number(match[1]) / per;
}

export function addSimulateCommands(program: Command): void {
  program
    .command('simulate')
    .description('Drive the platform API with a simulated workload: accounts, learners, courses, then random learner and admin actions.')
    .requiredOption('--api <url>', 'base URL of a running `learnhook serve`, e.g. http://127.0.0.1:8080')
    .requiredOption('--token <token>', 'admin token (creates accounts) or an account token (with --account)')
    .option('--accounts <n>', 'accounts to create (admin token)', '2')
    .option('--account <id...>', 'use these existing accounts instead of creating new ones')
    .option('--learners <n>', 'learners per account', '20')
    .option('--rate <n/s>', 'actions per second across all accounts', '5/s')
    .option('--duration <d>', 'how long the random actions run', '1m')
    .option('--max-actions <n>', 'stop after this many actions')
    .option('--seed <n>', 'seed of the random choices, to repeat a run', '1')
    .action(async (options: Record<string, string | string[] | undefined>) => {
      const client = new PlatformClient(String(options.api), String(options.token));
      try {
        const accountIds = Array.isArray(options.account) ? options.account.map((id) => wholeNumber('--account', id, 1)) : undefined;
        const report = await runWorkload(client, {
          accounts: wholeNumber('--accounts', String(options.accounts), 1),
          ...(accountIds ? { accountIds } : {}),
          learners: wholeNumber('--learners', String(options.learners), 1),
          rate: parseRate(String(options.rate)),
          durationMs: parseDuration(String(options.duration)),
          ...(options.maxActions ? { maxActions: wholeNumber('--max-actions', String(options.maxActions), 1) } : {}),
          seed: wholeNumber('--seed', String(options.seed)),
        });
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      } finally {
        await client.close();
      }
    });

  program
    .command('trigger')
    .description("Publish one sample event of the catalog to an account's log (delivered to its webhooks like any other).")
    .argument('<eventName>', 'an event name of the catalog, e.g. COURSE_ENROLLMENT')
    .requiredOption('--api <url>', 'base URL of a running `learnhook serve`')
    .requiredOption('--token <token>', "admin token or the account's token")
    .requiredOption('--account <id>', 'the account whose log receives the event')
    .action(async (eventName: string, options: { api: string; token: string; account: string }) => {
      if (!isEventName(eventName))
        throw new ConfigError(`"${eventName}" is not an event of the catalog; choose one of ${eventNames.join(', ')}`);
      const accountId = wholeNumber('--account', options.account, 1);
      const event = {
        ...sampleEvent(eventName),
        eventId: randomUUID(),
        timestamp: new Date().toISOString(),
        eventInfo: 'learnhook-trigger',
      };
      const client = new PlatformClient(options.api, options.token);
      try {
        const result = await client.expect('POST', `/v1/accounts/${accountId}/events`, { events: [event] });
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      } finally {
        await client.close();
      }
    });
}
