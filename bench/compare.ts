// `npm run bench:compare`: learnhook against the raw undici pipe, a BullMQ sender and a pg-boss sender, all posting to
// one receiver that keeps per-account order, duplicates, losses and latency. Prints one JSON line per run and a
// markdown summary; writes both to bench/results/. Flags: --runs N, --only a,b, --scenarios throughput,paced,dead,backlog
// (dead runs each sender's throughput run too, as its pair),
// --paced-seconds S, --backlog N, --events-per-account N, --accounts N, --profile.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { CatalogEvent } from '../src/catalog/schemas.ts';
import { median } from './bench-kit.ts';
import {
  allContenders,
  type Contender,
  createLearnhookAccounts,
  freshLearnhookDatabase,
  learnhookClient,
  publishBacklog,
  type Running,
  startLearnhookProcess,
} from './compare/contenders.ts';
import type { LedgerSummary } from './compare/ledger.ts';
import { type Receiver, startReceiver } from './compare/receiver.ts';
import { type RunLine, renderReport } from './compare/report.ts';
import { type Services, startServices } from './compare/services.ts';
import { benchEvent, issueWorkload, type Workload, wallClock } from './compare/workload.ts';

const folder = path.dirname(fileURLToPath(import.meta.url));
const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string', default: process.env.LH_BENCH_RUNS ?? '3' },
    only: { type: 'string' },
    scenarios: { type: 'string', default: 'throughput,paced,dead,backlog' },
    'paced-seconds': { type: 'string', default: '10' },
    'paced-rate': { type: 'string', default: '500' },
    backlog: { type: 'string', default: '1000000' },
    'events-per-account': { type: 'string', default: String(issueWorkload.eventsPerAccount) },
    accounts: { type: 'string', default: String(issueWorkload.accounts) },
    profile: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const runs = Number(flags.runs);
const scenarios = new Set(String(flags.scenarios).split(','));
const workload: Workload = {
  accounts: Number(flags.accounts),
  eventsPerAccount: Number(flags['events-per-account']),
  burst: issueWorkload.burst,
};
const only = flags.only ? new Set(String(flags.only).split(',')) : undefined;
const contenders = allContenders().filter((contender) => !only || only.has(contender.name) || only.has(contender.family));
/** The dead endpoint is measured for the senders at their throughput settings: not the pipe, not batch 1. */
const facesDeadEndpoint = (contender: Contender) => contender.family !== 'pipe' && !/-batch1(-|$)/.test(contender.name);
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const resultsDir = path.join(folder, 'results');
fs.mkdirSync(resultsDir, { recursive: true });
const outFile = flags.out ?? path.join(resultsDir, `compare-${stamp}.jsonl`);
const profileDir = path.join(resultsDir, `profiles-${stamp}`);
/** Per-run deadline: generous, so a slow contender shows as slow (or as lost events), never as a hung bench. */
const runTimeoutMs = Number(process.env.LH_BENCH_RUN_TIMEOUT_MS ?? 300_000);

const lines: RunLine[] = [];
function emit(line: RunLine): void {
  lines.push(line);
  const text = JSON.stringify(line);
  process.stdout.write(`${text}\n`);
  fs.appendFileSync(outFile, `${text}\n`);
}
function say(text: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${text}\n`);
}

function expectedFor(accounts: readonly number[], count: number): Record<number, number> {
  return Object.fromEntries(accounts.map((account) => [account, count]));
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, index) => index);
}

function burstOf(account: number, round: number, size: number): CatalogEvent[] {
  const publishedAt = wallClock();
  return range(size).map((index) => benchEvent(account, round * size + index, publishedAt));
}

/** The warm-up events among the unexpected ones (all of them arrive before measuring starts). */
let warmUpEvents = 0;
function warmedUp(summary: LedgerSummary): number {
  return Math.min(summary.unexpected, warmUpEvents);
}

function measured(summary: LedgerSummary, requests: number) {
  const seconds = (summary.lastReceivedAt - summary.firstPublishedAt) / 1000;
  return {
    eventsPerSecond: seconds > 0 ? Math.round(summary.received / seconds) : 0,
    seconds: Number(seconds.toFixed(3)),
    received: summary.received,
    lost: summary.lost,
    duplicates: summary.duplicates,
    orderViolations: summary.orderViolations,
    /** Warm-up events are not counted. */
    unexpected: summary.unexpected - warmedUp(summary),
    p50Ms: Number(summary.latencyMs.p50.toFixed(1)),
    p99Ms: Number(summary.latencyMs.p99.toFixed(1)),
    maxMs: Number(summary.latencyMs.max.toFixed(1)),
    requests,
  };
}

async function withContender<T>(
  contender: Contender,
  services: Services,
  endpoints: string[],
  healthyCount: number,
  body: (running: Running) => Promise<T>,
): Promise<T> {
  const execArgv =
    flags.profile && contender.family !== 'pipe' ? ['--cpu-prof', `--cpu-prof-dir=${path.join(profileDir, contender.name)}`] : [];
  const running = await contender.start({ services, endpoints, execArgv });
  try {
    await warmUp(running, endpoints.length, healthyCount);
    return await body(running);
  } finally {
    await running.stop();
  }
}

/** Numbers of warm-up events: outside every ledger, so the receiver counts them as unexpected and nothing else. */
const warmUpBase = 100_000_000;

/**
 * One burst per account before measuring, so JIT, connections and caches are warm in every contender alike; waits
 * until the healthy accounts' warm-up events have arrived (the receiver must already expect the measured ones).
 */
async function warmUp(running: Running, accounts: number, healthy: number): Promise<void> {
  warmUpEvents = accounts * workload.burst;
  await Promise.all(
    range(accounts).map((account) => {
      const publishedAt = wallClock();
      const events = range(workload.burst).map((index) => benchEvent(account, warmUpBase + index, publishedAt));
      return running.publish(account, events, true);
    }),
  );
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    const { summary } = await receiver.summary();
    if (summary.unexpected >= healthy * workload.burst) return;
    await sleep(50);
  }
  say('the warm-up did not arrive within 60 s; measuring anyway');
}

/** Publishes every account's bursts in order, all accounts at once (one publisher loop per account). */
async function publishAll(running: Running, accounts: readonly number[], eventsPerAccount: number, burst: number): Promise<number> {
  const started = wallClock();
  const rounds = Math.ceil(eventsPerAccount / burst);
  await Promise.all(
    accounts.map(async (account) => {
      for (let round = 0; round < rounds; round++) await running.publish(account, burstOf(account, round, burst), round === rounds - 1);
    }),
  );
  return (wallClock() - started) / 1000;
}

async function throughputRun(scenario: 'throughput' | 'dead', contender: Contender, run: number, services: Services, receiver: Receiver) {
  const accounts = range(workload.accounts);
  const dead = scenario === 'dead';
  const healthy = dead ? accounts.slice(1) : accounts;
  const endpoints = accounts.map((account) => (dead && account === 0 ? receiver.deadUrl : receiver.urlOf(account)));
  await receiver.expect(expectedFor(healthy, workload.eventsPerAccount));
  await withContender(contender, services, endpoints, healthy.length, async (running) => {
    const load = os.loadavg()[0];
    const publishSeconds = await publishAll(running, accounts, workload.eventsPerAccount, workload.burst);
    let complete = true;
    await receiver.whenComplete(runTimeoutMs).catch(() => {
      complete = false;
    });
    const { summary, requests } = await receiver.summary();
    emit({
      scenario,
      contender: contender.name,
      label: contender.label,
      run,
      ...measured(summary, requests),
      publishSeconds: Number(publishSeconds.toFixed(3)),
      complete,
      accounts: workload.accounts,
      healthyAccounts: healthy.length,
      eventsPerAccount: workload.eventsPerAccount,
      burst: workload.burst,
      load1: Number((load ?? 0).toFixed(2)),
    });
  });
}

async function pacedRun(contender: Contender, run: number, services: Services, receiver: Receiver) {
  const rate = Number(flags['paced-rate']);
  const seconds = Number(flags['paced-seconds']);
  const bursts = Math.round((rate * seconds) / workload.burst);
  const accounts = range(workload.accounts);
  const perAccount = accounts.map((account) => Math.ceil((bursts - account) / workload.accounts) * workload.burst);
  const expected = Object.fromEntries(accounts.map((account) => [account, Math.max(0, perAccount[account] ?? 0)]));
  await receiver.expect(expected);
  await withContender(contender, services, accounts.map(receiver.urlOf), accounts.length, async (running) => {
    const load = os.loadavg()[0];
    const intervalMs = (1000 * workload.burst) / rate;
    const chains = new Map<number, Promise<void>>();
    const start = performance.now() + 50;
    let late = 0;
    for (let index = 0; index < bursts; index++) {
      const due = start + index * intervalMs;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      else if (wait < -intervalMs) late++;
      const account = index % workload.accounts;
      const round = Math.floor(index / workload.accounts);
      const last = (round + 1) * workload.burst >= (expected[account] ?? 0);
      // Each account's bursts are published one after another; accounts do not wait for each other.
      const previous = chains.get(account) ?? Promise.resolve();
      chains.set(
        account,
        previous.then(() => running.publish(account, burstOf(account, round, workload.burst), last)),
      );
    }
    await Promise.all(chains.values());
    let complete = true;
    await receiver.whenComplete(runTimeoutMs).catch(() => {
      complete = false;
    });
    const { summary, requests } = await receiver.summary();
    emit({
      scenario: 'paced',
      contender: contender.name,
      label: contender.label,
      run,
      ...measured(summary, requests),
      complete,
      rate,
      pacedSeconds: seconds,
      latePublishes: late,
      load1: Number((load ?? 0).toFixed(2)),
    });
  });
}

function rssMiB(pid: number): number {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return kib / 1024;
  } catch {
    return 0;
  }
}

/** A backlog published with delivery off, then drained by a fresh `serve` while its RSS is sampled. */
async function backlogRun(store: 'sqlite' | 'postgres', total: number, run: number, services: Services, receiver: Receiver) {
  const accounts = range(workload.accounts);
  const perAccount = Math.ceil(total / workload.accounts);
  const database = await freshLearnhookDatabase(services, store);
  try {
    const flagsFor = ['--batch-max', '100', '--concurrency', '100'];
    const loader = await startLearnhookProcess(database.url, [...flagsFor, '--no-dispatch']);
    const client = learnhookClient(loader.url);
    const publishStarted = wallClock();
    try {
      const ids = await createLearnhookAccounts(
        client,
        loader.adminToken,
        accounts.map((account) => receiver.urlOf(account)),
      );
      await publishBacklog(client, ids, perAccount);
    } finally {
      await client.pool.close();
      await loader.stop();
    }
    const publishSeconds = (wallClock() - publishStarted) / 1000;
    say(`backlog ${store}: ${perAccount * workload.accounts} events published in ${publishSeconds.toFixed(1)} s; draining`);
    await receiver.expect(expectedFor(accounts, perAccount));
    const execArgv = flags.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.join(profileDir, `backlog-${store}`)}`] : [];
    const drainStarted = wallClock();
    const server = await startLearnhookProcess(database.url, flagsFor, execArgv);
    const samples: number[] = [];
    const pid = server.child.pid ?? 0;
    const sampler = setInterval(() => samples.push(rssMiB(pid)), 250);
    let complete = true;
    try {
      await receiver.whenComplete(Math.max(runTimeoutMs, total)).catch(() => {
        complete = false;
      });
    } finally {
      clearInterval(sampler);
      samples.push(rssMiB(pid));
      await server.stop();
    }
    const { summary, requests } = await receiver.summary();
    const drainSeconds = (summary.lastReceivedAt - drainStarted) / 1000;
    emit({
      scenario: 'backlog',
      contender: `learnhook-${store}-batch100`,
      label: `learnhook ${store === 'sqlite' ? 'SQLite' : 'PostgreSQL'}, --batch-max 100`,
      run,
      backlog: perAccount * workload.accounts,
      publishSeconds: Number(publishSeconds.toFixed(1)),
      drainSeconds: Number(drainSeconds.toFixed(1)),
      eventsPerSecond: Math.round(summary.received / drainSeconds),
      received: summary.received,
      lost: summary.lost,
      duplicates: summary.duplicates,
      orderViolations: summary.orderViolations,
      unexpected: summary.unexpected,
      requests,
      complete,
      rssPeakMiB: Math.round(Math.max(...samples)),
      rssMedianMiB: Math.round(median(samples)),
      rssSamples: samples.length,
      load1: Number((os.loadavg()[0] ?? 0).toFixed(2)),
    });
  } finally {
    await database.drop();
  }
}

/** Rotates the order each run so no contender always runs first (cold caches) or last (warm disk, busy neighbours). */
function rotated<T>(items: readonly T[], by: number): T[] {
  const shift = by % Math.max(1, items.length);
  return [...items.slice(shift), ...items.slice(0, shift)];
}

const machine = {
  when: new Date().toISOString(),
  nproc: os.cpus().length,
  cpuModel: os.cpus()[0]?.model,
  memoryGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
  node: process.version,
  loadAtStart: os.loadavg().map((value) => Number(value.toFixed(2))),
};

const services = await startServices();
const receiver = await startReceiver();
for (const note of services.notes) say(note);
const header = {
  scenario: 'machine',
  ...machine,
  redis: services.versions.redis,
  postgres: services.versions.postgres,
  services: services.notes,
  workload,
};
process.stdout.write(`${JSON.stringify(header)}\n`);
fs.appendFileSync(outFile, `${JSON.stringify(header)}\n`);
let failed = false;
try {
  for (let run = 1; run <= runs; run++) {
    if (scenarios.has('throughput') || scenarios.has('dead')) {
      for (const contender of rotated(contenders, run - 1)) {
        // The dead endpoint's run beside the same contender's healthy one: the two form a pair, so the machine's drift
        // between runs (±10 % and more) does not pass for the dead endpoint's cost. Which goes first alternates by run,
        // so whatever the first leaves behind (a database checkpoint, a warmer cache) falls on each side as often.
        const pair: ('throughput' | 'dead')[] =
          scenarios.has('dead') && facesDeadEndpoint(contender) ? ['throughput', 'dead'] : ['throughput'];
        if (run % 2 === 0) pair.reverse();
        for (const scenario of pair) {
          say(`${scenario === 'dead' ? 'dead endpoint' : 'throughput'} run ${run}/${runs}: ${contender.name}`);
          await throughputRun(scenario, contender, run, services, receiver);
        }
      }
    }
    if (scenarios.has('paced')) {
      for (const contender of rotated(
        contenders.filter((candidate) => candidate.name !== 'pipe-100'),
        run - 1,
      )) {
        say(`paced run ${run}/${runs}: ${contender.name}`);
        await pacedRun(contender, run, services, receiver);
      }
    }
  }
  if (scenarios.has('backlog')) {
    for (const store of ['sqlite', 'postgres'] as const) {
      if (only && !only.has('learnhook') && !only.has(`learnhook-${store}-batch100`)) continue;
      say(`backlog ${store}: ${flags.backlog} events`);
      await backlogRun(store, Number(flags.backlog), 1, services, receiver);
    }
  }
} catch (error) {
  failed = true;
  say(`the bench stopped on an error: ${(error as Error).stack ?? error}`);
} finally {
  await receiver.close();
  await services.stop();
}
const report = renderReport({ ...machine, loadAtEnd: os.loadavg().map((value) => Number(value.toFixed(2))), services, workload, lines });
process.stdout.write(`\n${report}\n`);
fs.writeFileSync(outFile.replace(/\.jsonl$/, '.md'), `${report}\n`);
say(`results: ${outFile}${flags.profile ? `, profiles under ${profileDir}` : ''}`);
process.exit(failed ? 1 : 0);
