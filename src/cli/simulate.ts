// `learnhook simulate` (a workload through the platform API) and `learnhook trigger` (one sample event).
import type { Command } from 'commander';
import { addApiOptions, apiConnection } from './api-connection.ts';
import { CliError } from './cli-error.ts';
import { withExamples } from './help.ts';
import { durationOption, parseRate, wholeNumber } from './parse-option.ts';

/** What the report's counters mean, printed with it so `"refused": 14` explains itself. */
export const outcomeMeaning = {
  ok: 'the platform accepted the action (it produced events if its rules say so)',
  refused:
    'the platform said no by its rules (4xx: course full, already completed, instance not deletable…); expected in a random workload, no events',
  failed: 'the platform answered 5xx or did not answer; worth a look in the serve log',
};

async function runSimulate(options: Record<string, string | string[] | undefined>, command: Command): Promise<void> {
  const connection = apiConnection(command);
  const { PlatformClient } = await import('../simulate/platform-client.ts');
  const { runWorkload } = await import('../simulate/run-workload.ts');
  const { progressOnTerminal } = await import('./progress.ts');
  const accountIds = Array.isArray(options.account) ? options.account.map((id) => wholeNumber('--account', id, 1)) : undefined;
  const accounts = wholeNumber('--accounts', String(options.accounts), 1);
  const learners = wholeNumber('--learners', String(options.learners), 1);
  const rate = parseRate(String(options.rate));
  const durationMs = durationOption('--duration', String(options.duration));
  const maxActions = options.maxActions ? wholeNumber('--max-actions', String(options.maxActions), 1) : undefined;
  const seed = wholeNumber('--seed', String(options.seed));
  const client = new PlatformClient(connection.api, connection.token);
  const seconds = Math.ceil(durationMs / 1000);
  const progress = await progressOnTerminal(
    'simulate |{bar}| {phase} {actions} actions ({ok} ok, {refused} refused, {failed} failed)',
    seconds,
    {
      phase: 'setting up',
      actions: 0,
      ok: 0,
      refused: 0,
      failed: 0,
    },
  );
  try {
    const report = await runWorkload(client, {
      accounts,
      ...(accountIds ? { accountIds } : {}),
      learners,
      rate,
      durationMs,
      ...(maxActions ? { maxActions } : {}),
      seed,
      onProgress: (snapshot) => {
        const totals = { ok: 0, refused: 0, failed: 0 };
        for (const count of Object.values(snapshot.report.byKind)) {
          totals.ok += count.ok;
          totals.refused += count.refused;
          totals.failed += count.failed;
        }
        progress.update(Math.min(seconds, Math.floor(snapshot.elapsedMs / 1000)), {
          phase: snapshot.phase,
          actions: snapshot.report.actions,
          ...totals,
        });
      },
    });
    progress.update(seconds, { phase: 'done' });
    progress.stop();
    process.stdout.write(`${JSON.stringify({ ...report, meaning: outcomeMeaning }, null, 2)}\n`);
  } finally {
    progress.stop();
    await client.close();
  }
}

export function addSimulateCommands(program: Command): void {
  withExamples(
    addApiOptions(
      program
        .command('simulate')
        .summary('Drive the platform API with a simulated workload, with a progress bar on a terminal.')
        .description(
          'Drive the platform API with a simulated workload: accounts, learners, courses, then random learner and admin actions. ' +
            'Prints a JSON report: per kind of action how many were ok, refused (the rules said no; expected) and failed.',
        ),
      'admin token (creates accounts), or an account token with --account',
    )
      .option('--accounts <n>', 'accounts to create (admin token)', '2')
      .option('--account <id...>', 'use these existing accounts instead of creating new ones (safe to repeat on the same account)')
      .option('--learners <n>', 'learners per account', '20')
      .option('--rate <n/s>', 'actions per second across all accounts', '5/s')
      .option('--duration <d>', 'how long the random actions run (250ms, 30s, 5m, 1h)', '1m')
      .option('--max-actions <n>', 'stop after this many actions')
      .option('--seed <n>', 'seed of the random choices, to repeat a run', '1'),
    'learnhook simulate --api http://127.0.0.1:8080 --token lh_admin_… --accounts 1 --duration 30s',
    'learnhook simulate --api http://127.0.0.1:8080/v1 --token lh_admin_… --account 1 --rate 20/s --duration 5m',
    'LEARNHOOK_API=http://127.0.0.1:8080 LEARNHOOK_API_TOKEN=lh_admin_… learnhook simulate --account 1 --max-actions 200',
  ).action(runSimulate);

  withExamples(
    addApiOptions(
      program
        .command('trigger')
        .description("Publish one sample event of the catalog to an account's log (delivered to its webhooks like any other).")
        .argument('<eventName>', 'an event name of the catalog, e.g. COURSE_ENROLLMENT (see `learnhook catalog list`)'),
      "admin token or the account's token",
    ).requiredOption('--account <id>', 'the account whose log receives the event'),
    'learnhook trigger COURSE_ENROLLMENT --api http://127.0.0.1:8080 --token lh_admin_… --account 1',
  ).action(async (eventName: string, options: { account: string }, command: Command) => {
    const connection = apiConnection(command);
    const { randomUUID } = await import('node:crypto');
    const { eventNames, isEventName, sampleEvent } = await import('../catalog/index.ts');
    const { PlatformClient } = await import('../simulate/platform-client.ts');
    if (!isEventName(eventName))
      throw new CliError(`"${eventName}" is not an event of the catalog; choose one of ${eventNames.join(', ')}`, 2);
    const accountId = wholeNumber('--account', options.account, 1);
    const event = { ...sampleEvent(eventName), eventId: randomUUID(), timestamp: new Date().toISOString(), eventInfo: 'learnhook-trigger' };
    const client = new PlatformClient(connection.api, connection.token);
    try {
      const result = await client.expect('POST', `/v1/accounts/${accountId}/events`, { events: [event] });
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } finally {
      await client.close();
    }
  });
}
