// Where learnhook's time goes, for "What bounds it" in docs/benchmarks.md: publishes the comparison's workload through
// the API with delivery off, then drains it with delivery on, each phase in its own `serve` process under
// node --cpu-prof and strace (fsync/fdatasync counts); on PostgreSQL also the database's commits and the WAL syncs.
// `node --import tsx bench/profile-learnhook.ts [--store sqlite|postgres] [--batch-max N] [--events-per-account N]`
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createLearnhookAccounts, freshLearnhookDatabase, learnhookClient, startLearnhookProcess } from './compare/contenders.ts';
import { profileFiles, summarise, summaryMarkdown } from './compare/profile-summary.ts';
import { startReceiver } from './compare/receiver.ts';
import { startServices } from './compare/services.ts';
import { benchEvent, issueWorkload, wallClock } from './compare/workload.ts';

const folder = path.dirname(fileURLToPath(import.meta.url));
const { values: flags } = parseArgs({
  options: {
    store: { type: 'string', default: 'sqlite,postgres' },
    'batch-max': { type: 'string', default: '100' },
    'events-per-account': { type: 'string', default: String(issueWorkload.eventsPerAccount) },
  },
});
const accounts = issueWorkload.accounts;
const perAccount = Number(flags['events-per-account']);
const burst = issueWorkload.burst;
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const outDir = path.join(folder, 'results', `profile-${stamp}`);
fs.mkdirSync(outDir, { recursive: true });
const hasStrace = (() => {
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** The node process under strace: strace's child. */
function tracedPid(stracePid: number): number {
  try {
    return Number(fs.readFileSync(`/proc/${stracePid}/task/${stracePid}/children`, 'utf8').trim().split(/\s+/)[0]) || stracePid;
  } catch {
    return stracePid;
  }
}

/** strace -c's table: calls per system call. */
function syscallCounts(file: string): Record<string, number> {
  const counts: Record<string, number> = {};
  if (!fs.existsSync(file)) return counts;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const columns = line.trim().split(/\s+/);
    const name = columns.at(-1);
    const calls = Number(columns[3]);
    if (name && Number.isFinite(calls) && /^[a-z_0-9]+$/.test(name) && name !== 'total') counts[name] = calls;
  }
  return counts;
}

async function postgresCounters(url: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const database = await client.query('SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()');
    const wal = await client.query('SELECT wal_sync, wal_write, wal_records FROM pg_stat_wal');
    return {
      commits: Number(database.rows[0]?.xact_commit),
      walSyncs: Number(wal.rows[0]?.wal_sync),
      walWrites: Number(wal.rows[0]?.wal_write),
    };
  } finally {
    await client.end();
  }
}

const services = await startServices();
const receiver = await startReceiver();
const report: string[] = [];
try {
  for (const store of String(flags.store).split(',') as ('sqlite' | 'postgres')[]) {
    const database = await freshLearnhookDatabase(services, store);
    try {
      const batchFlags = ['--batch-max', String(flags['batch-max']), '--concurrency', '100'];
      const phases: Record<string, unknown>[] = [];
      for (const phase of ['publish', 'deliver'] as const) {
        const profileDir = path.join(outDir, `${store}-${phase}`);
        const straceFile = path.join(outDir, `${store}-${phase}.strace`);
        const wrapper = hasStrace ? ['strace', '-f', '--seccomp-bpf', '-c', '-e', 'trace=fsync,fdatasync', '-o', straceFile] : [];
        if (phase === 'deliver')
          await receiver.expect(Object.fromEntries(Array.from({ length: accounts }, (_, account) => [account, perAccount])));
        const server = await startLearnhookProcess(
          database.url,
          phase === 'publish' ? [...batchFlags, '--no-dispatch'] : batchFlags,
          ['--cpu-prof', `--cpu-prof-dir=${profileDir}`],
          wrapper,
        );
        const before = store === 'postgres' ? await postgresCounters(database.url) : undefined;
        const started = wallClock();
        let measureFrom = started;
        let posts = 0;
        if (phase === 'publish') {
          const client = learnhookClient(server.url);
          const ids = await createLearnhookAccounts(
            client,
            server.adminToken,
            Array.from({ length: accounts }, (_, account) => receiver.urlOf(account)),
          );
          const publishStarted = wallClock();
          measureFrom = publishStarted;
          const countersAtPublish = store === 'postgres' ? await postgresCounters(database.url) : undefined;
          await Promise.all(
            ids.map(async (target, account) => {
              for (let n = 0; n < perAccount; n += burst) {
                const publishedAt = wallClock();
                const events = Array.from({ length: burst }, (_, index) => benchEvent(account, n + index, publishedAt));
                await client.call('POST', `/v1/accounts/${target.id}/events`, { events }, target.token);
                posts++;
              }
            }),
          );
          const seconds = (wallClock() - publishStarted) / 1000;
          const after = store === 'postgres' ? await postgresCounters(database.url) : undefined;
          await client.pool.close();
          phases.push({
            phase,
            seconds: Number(seconds.toFixed(2)),
            eventsPerSecond: Math.round((accounts * perAccount) / seconds),
            postsPerSecond: Math.round(posts / seconds),
            ...(after && countersAtPublish
              ? {
                  commits: after.commits - countersAtPublish.commits,
                  commitsPerSecond: Math.round((after.commits - countersAtPublish.commits) / seconds),
                  walSyncsClusterWide: after.walSyncs - countersAtPublish.walSyncs,
                }
              : {}),
          });
        } else {
          await receiver.whenComplete(600_000);
          const { summary } = await receiver.summary();
          const seconds = (summary.lastReceivedAt - started) / 1000;
          const after = store === 'postgres' ? await postgresCounters(database.url) : undefined;
          phases.push({
            phase,
            seconds: Number(seconds.toFixed(2)),
            eventsPerSecond: Math.round(summary.received / seconds),
            lost: summary.lost,
            orderViolations: summary.orderViolations,
            ...(after && before
              ? {
                  commits: after.commits - before.commits,
                  commitsPerSecond: Math.round((after.commits - before.commits) / seconds),
                  walSyncsClusterWide: after.walSyncs - before.walSyncs,
                }
              : {}),
          });
        }
        // SIGTERM to node itself (strace passes nothing on), so it writes its profile; strace then writes its table.
        const nodePid = hasStrace ? tracedPid(server.child.pid ?? 0) : (server.child.pid ?? 0);
        const exited = new Promise((resolve) => server.child.once('exit', resolve));
        const measuredSeconds = (wallClock() - measureFrom) / 1000;
        process.kill(nodePid, 'SIGTERM');
        await exited;
        const current = phases.at(-1) as Record<string, unknown>;
        current.syscalls = syscallCounts(straceFile);
        // Only the measured phase (plus the shutdown's few milliseconds), not the start-up's module loading.
        const summary = summarise(profileFiles(profileDir), 15, measuredSeconds);
        current.topModules = summary.modules.slice(0, 8);
        process.stdout.write(`${JSON.stringify({ store, batchMax: Number(flags['batch-max']), ...current })}\n`);
        report.push(summaryMarkdown(`${store}, ${phase} (batch-max ${flags['batch-max']})`, summary));
      }
    } finally {
      await database.drop();
    }
  }
} finally {
  await receiver.close();
  await services.stop();
}
fs.writeFileSync(path.join(outDir, 'summary.md'), report.join('\n'));
process.stdout.write(`\n${report.join('\n')}\nprofiles and strace tables under ${outDir}\n`);
