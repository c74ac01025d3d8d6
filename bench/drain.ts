// Drains one backlog again and again, with this checkout and optionally another one (a baseline), interleaved: events/s,
// CPU milliseconds of the serve process per 1,000 events (steadier than events/s on a shared machine), RSS peak.
// `node --import tsx bench/drain.ts [--store sqlite|postgres] [--backlog N] [--runs N] [--baseline DIR] [--profile] [--dead]`
// With --dead, each checkout drains twice per run, interleaved: account 0's webhook disabled (99 healthy webhooks
// alone), and pointed at an endpoint that accepts and never answers (99 healthy beside one dead); only the healthy
// accounts' events are counted, so the two give the dead endpoint's cost to the healthy ones.
// The backlog is published once through the API; before each drain every webhook is put back to the start of its
// log (cursor 0, no batch, attempts log emptied), so each drain sends the same batches to the same receiver.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openDatabase } from '../src/store/database.ts';
import type { ProducerSchema } from '../src/store/schema.ts';
import { noBatchInFlight } from '../src/webhooks/webhooks.ts';
import { median } from './bench-kit.ts';
import {
  createLearnhookAccounts,
  freshLearnhookDatabase,
  learnhookClient,
  publishBacklog,
  startLearnhookProcess,
} from './compare/contenders.ts';
import { startReceiver } from './compare/receiver.ts';
import { startServices } from './compare/services.ts';
import { wallClock } from './compare/workload.ts';

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: flags } = parseArgs({
  options: {
    store: { type: 'string', default: 'sqlite' },
    backlog: { type: 'string', default: '200000' },
    accounts: { type: 'string', default: '100' },
    runs: { type: 'string', default: '3' },
    'batch-max': { type: 'string', default: '100' },
    baseline: { type: 'string' },
    profile: { type: 'boolean', default: false },
    dead: { type: 'boolean', default: false },
    /** Extra serve flags, space-separated. */
    flags: { type: 'string', default: '' },
    /** Extra node flags for the draining serve process, space-separated (e.g. --max-old-space-size=200). */
    'node-flags': { type: 'string', default: '' },
  },
});
const store = flags.store as 'sqlite' | 'postgres';
const accounts = Number(flags.accounts);
const perAccount = Math.ceil(Number(flags.backlog) / accounts);
const total = perAccount * accounts;
const roots = [...(flags.baseline ? [{ name: 'baseline', root: path.resolve(flags.baseline) }] : []), { name: 'this', root: here }];
/** What account 0's webhook does in a drain: delivers like the others, is disabled, or points at a dead endpoint. */
type Account0 = 'healthy' | 'disabled' | 'dead';
const checkouts = roots.flatMap(({ name, root }) =>
  flags.dead
    ? [
        { name, root, account0: 'disabled' as Account0 },
        { name: `${name}+dead`, root, account0: 'dead' as Account0 },
      ]
    : [{ name, root, account0: 'healthy' as Account0 }],
);
const serveFlags = [
  '--batch-max',
  String(flags['batch-max']),
  '--concurrency',
  String(accounts),
  ...String(flags.flags).split(' ').filter(Boolean),
];
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const profileDir = path.join(here, 'bench', 'results', `drain-profiles-${stamp}`);

/** User + system CPU time of a process, in milliseconds (from /proc/PID/stat, in clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

/** Resident memory of a process in MiB: all of it, its anonymous part (heaps) and its file-backed part (mapped files). */
function rssMiB(pid: number): { total: number; anon: number; file: number } {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
    return { total: field('VmRSS'), anon: field('RssAnon'), file: field('RssFile') };
  } catch {
    return { total: 0, anon: 0, file: 0 };
  }
}

const say = (text: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${text}\n`);

const services = await startServices();
const receiver = await startReceiver();
const database = await freshLearnhookDatabase(services, store);
const results: Record<string, { eventsPerSecond: number[]; cpuMsPer1000: number[]; rssPeakMiB: number[] }> = {};
try {
  const loader = await startLearnhookProcess(database.url, [...serveFlags, '--no-dispatch']);
  const client = learnhookClient(loader.url);
  try {
    const ids = await createLearnhookAccounts(
      client,
      loader.adminToken,
      Array.from({ length: accounts }, (_, account) => receiver.urlOf(account)),
    );
    const started = wallClock();
    await publishBacklog(client, ids, perAccount);
    say(`${total} events published in ${((wallClock() - started) / 1000).toFixed(1)} s`);
  } finally {
    await client.pool.close();
    await loader.stop();
  }
  const expectedOf = (account0: Account0) =>
    Object.fromEntries(
      Array.from({ length: accounts }, (_, account) => [account, perAccount]).filter(
        ([account]) => account !== 0 || account0 === 'healthy',
      ),
    );
  for (let run = 1; run <= Number(flags.runs); run++) {
    for (const checkout of run % 2 ? checkouts : [...checkouts].reverse()) {
      const reset = await openDatabase<ProducerSchema>(database.url);
      try {
        await reset.db.deleteFrom('delivery_attempts').execute();
        await reset.db
          .updateTable('webhooks')
          .set({
            ...noBatchInFlight,
            cursor: 0,
            delivery_seq: 0,
            next_attempt_at: null,
            failing_since: null,
            lease_owner: null,
            lease_until: null,
          })
          .execute();
        const first = await reset.db.selectFrom('webhooks').select('id').orderBy('account_id').executeTakeFirstOrThrow();
        await reset.db
          .updateTable('webhooks')
          .set({
            state: checkout.account0 === 'disabled' ? 'disabled' : 'enabled',
            url: checkout.account0 === 'dead' ? receiver.deadUrl : receiver.urlOf(0),
          })
          .where('id', '=', first.id)
          .execute();
      } finally {
        await reset.close();
      }
      await receiver.expect(expectedOf(checkout.account0));
      const execArgv = [
        ...(flags.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.join(profileDir, `${checkout.name}-${run}`)}`] : []),
        ...String(flags['node-flags']).split(' ').filter(Boolean),
      ];
      const load = os.loadavg()[0] ?? 0;
      const server = await startLearnhookProcess(database.url, serveFlags, execArgv, [], checkout.root);
      const pid = server.child.pid ?? 0;
      const cpuAtStart = cpuMs(pid);
      const startedAt = wallClock();
      const samples: { total: number; anon: number; file: number }[] = [];
      const sampler = setInterval(() => samples.push(rssMiB(pid)), 100);
      let cpuAtEnd = 0;
      try {
        await receiver.whenComplete(Math.max(300_000, total));
        cpuAtEnd = cpuMs(pid);
      } finally {
        clearInterval(sampler);
        samples.push(rssMiB(pid));
        await server.stop();
      }
      const { summary } = await receiver.summary();
      const seconds = (summary.lastReceivedAt - startedAt) / 1000;
      const line = {
        checkout: checkout.name,
        run,
        store,
        backlog: total,
        eventsPerSecond: Math.round(summary.received / seconds),
        seconds: Number(seconds.toFixed(2)),
        cpuMsPer1000: Number((((cpuAtEnd - cpuAtStart) / summary.received) * 1000).toFixed(1)),
        rssPeakMiB: Math.round(Math.max(...samples.map((sample) => sample.total))),
        rssMedianMiB: Math.round(median(samples.map((sample) => sample.total))),
        rssAnonPeakMiB: Math.round(Math.max(...samples.map((sample) => sample.anon))),
        rssFilePeakMiB: Math.round(Math.max(...samples.map((sample) => sample.file))),
        lost: summary.lost,
        duplicates: summary.duplicates,
        orderViolations: summary.orderViolations,
        load1: Number(load.toFixed(2)),
      };
      process.stdout.write(`${JSON.stringify(line)}\n`);
      const kept = results[checkout.name] ?? { eventsPerSecond: [], cpuMsPer1000: [], rssPeakMiB: [] };
      results[checkout.name] = kept;
      kept.eventsPerSecond.push(line.eventsPerSecond);
      kept.cpuMsPer1000.push(line.cpuMsPer1000);
      kept.rssPeakMiB.push(line.rssPeakMiB);
    }
  }
} finally {
  await database.drop();
  await receiver.close();
  await services.stop();
}
for (const [name, kept] of Object.entries(results)) {
  const row = {
    checkout: name,
    eventsPerSecond: median(kept.eventsPerSecond),
    cpuMsPer1000: median(kept.cpuMsPer1000),
    rssPeakMiB: median(kept.rssPeakMiB),
  };
  process.stdout.write(`median ${JSON.stringify(row)}\n`);
}
const ratio = (label: string, numerator: string, denominator: string) => {
  const [over, under] = [results[numerator], results[denominator]];
  if (over && under)
    process.stdout.write(
      `${label}: events/s ${(median(over.eventsPerSecond) / median(under.eventsPerSecond)).toFixed(3)}, CPU per event ${(median(over.cpuMsPer1000) / median(under.cpuMsPer1000)).toFixed(3)}\n`,
    );
};
ratio('this / baseline', 'this', 'baseline');
ratio('healthy ones beside a dead endpoint / alone, this', 'this+dead', 'this');
ratio('healthy ones beside a dead endpoint / alone, baseline', 'baseline+dead', 'baseline');
if (flags.profile) process.stdout.write(`profiles under ${profileDir}\n`);
