// The CLI as a new user meets it: every command's help has an example and names its required options; mistakes
// (wrong token, unreachable API or database, bad --db, port in use, missing PostgreSQL database, a duration without
// a unit) are one plain line on stderr and a non-zero exit, never a stack trace.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from '../src/cli/main.ts';
import { loadSettings, testPostgresUrl } from '../src/config.ts';
import { createAccount } from '../src/platform/accounts.ts';
import { startProducer } from '../src/server.ts';
import { type CliResult, runCli } from './support/cli.ts';
import { dropTestDatabase, testDialects } from './support/test-databases.ts';
import { freePort } from './support/test-receiver.ts';

function helpOf(command: Command): string {
  let text = '';
  command.configureOutput({ writeOut: (chunk) => (text += chunk), writeErr: (chunk) => (text += chunk) });
  command.outputHelp();
  return text;
}

function everyCommand(command: Command): Command[] {
  return [command, ...command.commands.flatMap(everyCommand)];
}

test('every command and subcommand has an example in its --help', () => {
  for (const command of everyCommand(buildProgram())) {
    if (command.name() === 'help') continue;
    assert.match(helpOf(command), /Examples:\n {2}\$ learnhook /, `learnhook ${command.name()} --help has no example`);
  }
});

test('catalog list shows the 27 events a webhook can subscribe to', async () => {
  const listed = await runCli(['catalog', 'list']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^COURSE_COMPLETED_BATCH\s+batch\s+completion\s+An administrator/m);
  assert.match(listed.stdout, /27 events\. A webhook created without --events \(or with --events all\) receives every one\./);
});

test('subcommand help names the options it needs, and the mirror its own port', () => {
  const program = buildProgram();
  const webhooks = program.commands.find((command) => command.name() === 'webhooks')!;
  const list = helpOf(webhooks.commands.find((command) => command.name() === 'list')!);
  for (const option of ['--api', '--token', '--account']) assert.ok(list.includes(option), `webhooks list --help lacks ${option}`);
  const simulate = helpOf(program.commands.find((command) => command.name() === 'simulate')!).replace(/\s+/g, ' ');
  assert.match(simulate, /--api <url> [^-]*\(required; or env LEARNHOOK_API\)/);
  // Help wraps long lines: compare with the spaces folded.
  const mirror = helpOf(program.commands.find((command) => command.name() === 'mirror')!).replace(/\s+/g, ' ');
  assert.match(mirror, /--port <integer>[^[]*\[env LEARNHOOK_MIRROR_PORT, default 8090\]/);
});

/** One line on stderr, no stack frames, a non-zero exit. */
function assertOneLine(result: CliResult, pattern: RegExp): void {
  assert.notEqual(result.code, 0, `exit code 0; stderr: ${result.stderr}`);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `more than one line on stderr:\n${result.stderr}`);
  assert.doesNotMatch(result.stderr, /\n\s+at /);
  assert.match(lines[0]!, pattern);
}

const sqlite = (await testDialects()).find((dialect) => dialect.name === 'sqlite')!;
const postgres = (await testDialects()).find((dialect) => dialect.name === 'postgres')!;
const dataDir = path.join(os.tmpdir(), `learnhook-cli-${process.pid}`);

describe('mistakes are one line', () => {
  test('wrong token, unknown account, a bad duration; the serve banner URL works as --api and LEARNHOOK_API is read', async () => {
    const db = await sqlite.freshUrl();
    const producer = await startProducer(loadSettings({ db, port: 0, adminToken: 'cli-admin', logLevel: 'silent' }, {}), {
      dispatch: false,
    });
    try {
      const account = await createAccount(producer.context, { name: 'cli' });
      assertOneLine(
        await runCli(['trigger', 'CI_STATS', '--api', `${producer.url}/v1`, '--token', 'wrong', '--account', String(account.id)]),
        /^learnhook: the API refused the token \(401/,
      );
      assertOneLine(
        await runCli(['trigger', 'CI_STATS', '--api', String(producer.url), '--token', 'cli-admin', '--account', '999']),
        /^learnhook: not found \(404 account 999/,
      );
      assertOneLine(
        await runCli(['simulate', '--api', String(producer.url), '--token', 'cli-admin', '--duration', '30']),
        /^learnhook: --duration: "30" has no unit; write it like 30s or 30ms$/,
      );
      // A second simulate on the same account runs as well as the first (no 409 on its learners), and explains its counts.
      for (const run of [1, 2]) {
        const simulated = await runCli([
          'simulate',
          ...['--api', String(producer.url), '--token', 'cli-admin', '--account', String(account.id)],
          ...['--learners', '2', '--rate', '50/s', '--duration', '5s', '--max-actions', '5'],
        ]);
        assert.equal(simulated.code, 0, `run ${run}: ${simulated.stderr}`);
        assert.equal(simulated.stderr, '', 'no progress bar in a pipe');
        const report = JSON.parse(simulated.stdout) as { actions: number; meaning: Record<string, string> };
        assert.ok(report.actions >= 1);
        assert.match(report.meaning.refused ?? '', /the platform said no by its rules/);
      }
      // The environment stands in for --api and --token, and the banner's /v1 URL is accepted.
      const env = { ...process.env, LEARNHOOK_API: `${producer.url}/v1/`, LEARNHOOK_API_TOKEN: 'cli-admin' };
      const triggered = await runCli(['trigger', 'CI_STATS', '--account', String(account.id)], { env });
      assert.equal(triggered.code, 0, triggered.stderr);
      assert.equal(JSON.parse(triggered.stdout).accepted.length, 1);
    } finally {
      await producer.stop();
      await dropTestDatabase(db);
    }
  });

  test('an API that does not answer', async () => {
    const port = await freePort();
    assertOneLine(
      await runCli(['webhooks', 'list', '--api', `http://127.0.0.1:${port}`, '--token', 't', '--account', '1']),
      /^learnhook: cannot reach the API at http:\/\/127\.0\.0\.1:\d+ \(nothing answers there\): is `learnhook serve` running/,
    );
  });

  test('a bad --db URL and a port in use', async () => {
    assertOneLine(await runCli(['serve', '--db', 'mysql://x', '--data-dir', dataDir]), /^learnhook: unknown database "mysql:\/\/x"/);
    // A PostgreSQL URL with no host: pg only parses it on connecting; the password stays out of the line.
    assertOneLine(
      await runCli(['serve', '--db', 'postgres://someone:secret@', '--port', '0', '--log-level', 'silent']),
      /^learnhook: the database URL \(postgres:\/\/someone:\*\*\*@\) is not a valid URL/,
    );
    const taken = http.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const db = await sqlite.freshUrl();
      assertOneLine(
        await runCli(['serve', '--db', db, '--port', String(port), '--log-level', 'silent']),
        new RegExp(`^learnhook: port ${port} on 127.0.0.1 is already in use`),
      );
      assertOneLine(
        await runCli(['listen', '--port', String(port)]),
        new RegExp(`^learnhook: port ${port} on 127.0.0.1 is already in use`),
      );
    } finally {
      taken.close();
    }
  });

  test('a PostgreSQL database that does not exist: create it with createdb', { skip: postgres.skip }, async () => {
    const url = new URL(testPostgresUrl());
    url.pathname = '/learnhook_never_created';
    assertOneLine(
      await runCli(['serve', '--db', url.toString(), '--port', '0', '--log-level', 'silent']),
      /^learnhook: PostgreSQL has no database "learnhook_never_created" \(postgres:.*\): create it with `createdb -h 127\.0\.0\.1 -p 5432 -U postgres learnhook_never_created`$/,
    );
  });
});
