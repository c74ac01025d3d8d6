// One fault run: real serve, worker and mirror processes on one store, events published without pause, a chaos
// receiver between producer and mirror, kill -9 of each process and a restart of a private PostgreSQL at seeded
// moments; at the end every published event must be mirrored, in order, once, with every re-sent batch flagged.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { sampleEvent } from '../../src/catalog/index.ts';
import type { MirrorSchema } from '../../src/mirror/schema.ts';
import { seededRandom } from '../../src/platform/rules/progress.ts';
import { openDatabase } from '../../src/store/database.ts';
import { type LearnhookProcess, learnhookProcess, type UnexpectedExit } from '../support/learnhook-process.ts';
import { type PrivatePostgres, startPrivatePostgres } from '../support/private-postgres.ts';
import { freePort } from '../support/test-receiver.ts';
import { type ChaosReceiver, type ReceiverFault, receiverFaults, startChaosReceiver } from './chaos-receiver.ts';

export const processFaults = ['killServe', 'killWorker', 'killMirror', 'postgresRestart'] as const;
export type ProcessFault = (typeof processFaults)[number];
export type FaultKind = ReceiverFault | ProcessFault;

export interface FaultRunOptions {
  store: 'sqlite' | 'postgres';
  seed: number;
  /** How long events are published and faults injected. */
  durationMs: number;
  /** Longest wait, after the fault window, for every event to be mirrored. */
  settleMs: number;
  /** kill -9 of each of serve, worker and mirror, this many times. */
  killsPerProcess: number;
  /** Stop and start the private PostgreSQL cluster mid-run (postgres only). */
  postgresRestart: boolean;
  accounts: number;
  /** Chance that the chaos receiver injects a fault into a delivery. */
  faultRate: number;
}

export interface FaultReport {
  store: string;
  seed: number;
  durationMs: number;
  published: number;
  mirrored: number;
  deliveries: number;
  injected: Record<FaultKind, number>;
  /** Faults after which the end checks all held (equal to `injected` in a good run, all 0 otherwise). */
  survived: Record<FaultKind, number>;
  resentBatches: number;
  duplicatesFlagged: number;
  unexpectedExits: UnexpectedExit[];
  problems: string[];
  ok: boolean;
}

/** Reads the run's knobs from the environment; `defaults` are the short form's. */
export function faultRunOptions(store: 'sqlite' | 'postgres', defaults: Partial<FaultRunOptions> = {}): FaultRunOptions {
  const env = process.env;
  const number = (name: string, fallback: number) => (env[name] === undefined ? fallback : Number(env[name]));
  return {
    store,
    seed: number('LEARNHOOK_FAULTS_SEED', defaults.seed ?? 1),
    durationMs: number('LEARNHOOK_FAULTS_DURATION_MS', defaults.durationMs ?? 5000),
    settleMs: number('LEARNHOOK_FAULTS_SETTLE_MS', defaults.settleMs ?? 60_000),
    killsPerProcess: number('LEARNHOOK_FAULTS_KILLS', defaults.killsPerProcess ?? 1),
    // Off in the short form until `serve` and `mirror` survive a restart of PostgreSQL under load (issue 11: an error
    // of a checked-out pg client is not handled); `npm run test:faults` turns it on.
    postgresRestart: (env.LEARNHOOK_FAULTS_PG_RESTART ?? String(defaults.postgresRestart ?? false)) === 'true',
    accounts: number('LEARNHOOK_FAULTS_ACCOUNTS', defaults.accounts ?? 3),
    faultRate: number('LEARNHOOK_FAULTS_RATE', defaults.faultRate ?? 0.3),
  };
}

const adminToken = 'lh_admin_faults';
const socketTimeoutMs = 800;
const publishableEvents = ['LEARNING_OBJECT_DRAFT', 'COURSE_ENROLLMENT', 'CI_STATS', 'LEARNER_PROGRESS', 'COURSE_COMPLETED'];

async function api(base: string, method: string, url: string, body?: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${base}${url}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url} answered ${response.status}: ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

export async function runFaults(options: FaultRunOptions, log: (line: string) => void = () => {}): Promise<FaultReport> {
  const random = seededRandom(options.seed);
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'learnhook-faults-'));
  const injected = Object.fromEntries([...receiverFaults, ...processFaults].map((kind) => [kind, 0])) as Record<FaultKind, number>;
  const unexpectedExits: UnexpectedExit[] = [];
  const problems: string[] = [];
  let postgres: PrivatePostgres | undefined;
  let chaos: ChaosReceiver | undefined;
  const processes: LearnhookProcess[] = [];
  const published = new Map<number, string[]>();

  try {
    let producerDb = `sqlite:${path.join(folder, 'producer.db')}`;
    let mirrorDb = `sqlite:${path.join(folder, 'mirror.db')}`;
    if (options.store === 'postgres') {
      postgres = await startPrivatePostgres();
      producerDb = await postgres.createDatabase('producer');
      mirrorDb = await postgres.createDatabase('mirror');
    }
    const [apiPort, mirrorPort, chaosPort] = [await freePort(), await freePort(), await freePort()];
    const api_ = `http://127.0.0.1:${apiPort}`;
    const delivery = [
      ...['--allow-private-targets', '--poll-interval', '100ms', '--lease', '3s', '--batch-max', '5'],
      ...['--retry-initial', '50ms', '--retry-max', '500ms', '--socket-timeout', `${socketTimeoutMs}ms`, '--connect-timeout', '800ms'],
      ...['--db', producerDb, '--data-dir', folder],
    ];
    // A process that exits by itself is a failure of the run; it is started again so the end checks can still tell
    // whether anything was lost.
    const restartAfterCrash = (exit: UnexpectedExit) => {
      unexpectedExits.push(exit);
      log(`UNEXPECTED EXIT of ${exit.process} (${exit.code ?? exit.signal}): ${exit.output.split('\n').slice(-5).join(' | ')}`);
      const crashed = processes.find((candidate) => candidate.name === exit.process);
      setTimeout(
        () => void crashed?.start().catch((error: Error) => problems.push(`${exit.process} did not restart: ${error.message}`)),
        200,
      );
    };
    const serve = learnhookProcess(
      'serve',
      ['serve', '--port', String(apiPort), '--admin-token', adminToken, ...delivery],
      restartAfterCrash,
    );
    const worker = learnhookProcess('worker', ['worker', ...delivery], restartAfterCrash);
    processes.push(serve, worker);
    await serve.start();
    const workerStarted = worker.start();

    const secrets: string[] = [];
    const accounts: { id: number; webhookId: string }[] = [];
    for (let index = 0; index < options.accounts; index++) {
      const account = await api(api_, 'POST', '/v1/accounts', { name: `faults ${index}` });
      const webhook = await api(api_, 'POST', `/v1/accounts/${account.id}/webhooks`, {
        name: 'mirror',
        url: `http://127.0.0.1:${chaosPort}/webhook`,
        events: publishableEvents,
        auth: { type: 'signature' },
      });
      secrets.push(String(webhook.secret));
      accounts.push({ id: Number(account.id), webhookId: String(webhook.id) });
      published.set(Number(account.id), []);
    }
    const mirror = learnhookProcess(
      'mirror',
      ['mirror', '--port', String(mirrorPort), '--db', mirrorDb, '--data-dir', folder, '--secret', secrets.join(' ')],
      restartAfterCrash,
    );
    processes.push(mirror);
    await Promise.all([mirror.start(), workerStarted]);
    chaos = await startChaosReceiver({
      port: chaosPort,
      target: `http://127.0.0.1:${mirrorPort}`,
      seed: options.seed,
      socketTimeoutMs,
      faultRate: options.faultRate,
    });

    // Publishers: one per account, each chunk re-sent until it is accepted (publishing is idempotent by eventId).
    const stopAt = Date.now() + options.durationMs;
    let counter = 0;
    const publisher = async (accountId: number, going: () => boolean) => {
      while (going()) {
        const events = Array.from({ length: 1 + Math.floor(random() * 8) }, () => {
          const name = publishableEvents[counter % publishableEvents.length] as string;
          const sample = sampleEvent(name);
          counter++;
          return {
            ...sample,
            eventId: `faults-${options.seed}-${accountId}-${counter}`,
            timestamp: new Date().toISOString(),
            data: { ...sample.data, ...('userId' in sample.data ? { userId: 1 + (counter % 50) } : {}) },
          };
        });
        for (;;) {
          try {
            await api(api_, 'POST', `/v1/accounts/${accountId}/events`, { events });
            break;
          } catch {
            // serve is down or its database is: the client tries again, as a real producer would.
            await sleep(100);
          }
        }
        published.get(accountId)?.push(...events.map((event) => event.eventId));
        await sleep(10 + Math.floor(random() * 30));
      }
    };

    // The faults: each process killed at seeded moments (restarted after a seeded pause), and one database restart.
    const moments: { at: number; fault: ProcessFault }[] = [];
    for (const fault of ['killServe', 'killWorker', 'killMirror'] as const)
      for (let kill = 0; kill < options.killsPerProcess; kill++) moments.push({ at: options.durationMs * (0.1 + 0.75 * random()), fault });
    if (postgres && options.postgresRestart) moments.push({ at: options.durationMs * (0.3 + 0.4 * random()), fault: 'postgresRestart' });
    moments.sort((a, b) => a.at - b.at);
    const startedAt = Date.now();
    // Each process has its own timeline of kills, so a slow restart of one does not delay the faults of another.
    const inject = async (moment: { at: number; fault: ProcessFault }) => {
      await sleep(Math.max(0, startedAt + moment.at - Date.now()));
      const pause = 100 + Math.floor(random() * 700);
      injected[moment.fault]++;
      log(`${moment.fault} at ${Math.round(Date.now() - startedAt)} ms, back after ${pause} ms`);
      if (moment.fault === 'postgresRestart') {
        await postgres?.stop();
        await sleep(pause);
        await postgres?.start();
        return;
      }
      const target = { killServe: serve, killWorker: worker, killMirror: mirror }[moment.fault];
      await target.kill();
      await sleep(pause);
      await target.start();
    };
    const timeline = async (fault: ProcessFault) => {
      for (const moment of moments.filter((candidate) => candidate.fault === fault)) await inject(moment);
    };
    let injecting = true;
    const injector = Promise.all(processFaults.map(timeline)).finally(() => {
      injecting = false;
    });
    // Publishing goes on until the window has passed and every fault was injected.
    const publishing = async () => {
      await Promise.all(accounts.map((account) => publisher(account.id, () => injecting || Date.now() < stopAt)));
    };
    await Promise.all([publishing(), injector]);
    chaos.calm();
    const total = [...published.values()].reduce((sum, ids) => sum + ids.length, 0);
    log(`published ${total} events; waiting up to ${options.settleMs} ms for the mirror`);

    // Settled: every published event applied by the mirror and nothing left in its inbox.
    const mirrorDatabase = await openDatabase<MirrorSchema>(mirrorDb);
    try {
      const settleBy = Date.now() + options.settleMs;
      let mirrored = 0;
      for (;;) {
        const applied = await mirrorDatabase.db
          .selectFrom('processed_events')
          .select(sql<number>`count(*)`.as('count'))
          .executeTakeFirstOrThrow()
          .catch(() => ({ count: -1 }));
        mirrored = Number(applied.count);
        const pending = await mirrorDatabase.db
          .selectFrom('inbox')
          .select(sql<number>`count(*)`.as('count'))
          .where('processed_at', 'is', null)
          .executeTakeFirstOrThrow()
          .catch(() => ({ count: -1 }));
        if (mirrored >= total && Number(pending.count) === 0) break;
        if (Date.now() > settleBy) {
          problems.push(
            `not settled within ${options.settleMs} ms: ${mirrored} of ${total} events mirrored, ${pending.count} inbox rows pending`,
          );
          break;
        }
        await sleep(200);
      }

      // None lost: every published event is in the mirror.
      const rows = await mirrorDatabase.db.selectFrom('processed_events').select(['account_id', 'event_id']).execute();
      const seen = new Set(rows.map((row) => `${row.account_id}/${row.event_id}`));
      for (const [accountId, ids] of published) {
        const missing = ids.filter((id) => !seen.has(`${accountId}/${id}`));
        if (missing.length > 0)
          problems.push(`account ${accountId}: ${missing.length} events never mirrored, e.g. ${missing.slice(0, 3).join(', ')}`);
      }

      // In order per webhook: new events reach the mirror in the order they were published, in a gap-free sequence.
      const answered = chaos.forwarded.filter((delivery) => delivery.mirrorStatus === 202);
      for (const [accountId, ids] of published) {
        const firstSeen: string[] = [];
        const known = new Set<string>();
        const bodyOfBatch = new Map<string, string>();
        let lastSequence = 0;
        for (const delivery of answered.filter((candidate) => candidate.accountId === accountId)) {
          const earlier = bodyOfBatch.get(delivery.batchId);
          if (earlier !== undefined) {
            if (earlier !== delivery.body) problems.push(`account ${accountId}: batch ${delivery.batchId} was re-sent with other content`);
            continue;
          }
          bodyOfBatch.set(delivery.batchId, delivery.body);
          const fresh = delivery.eventIds.filter((id) => !known.has(id));
          if (fresh.length === 0) continue;
          const [first, last] = delivery.sequence.split('-').map(Number);
          if (first !== lastSequence + 1)
            problems.push(`account ${accountId}: delivery sequence jumped from ${lastSequence} to ${delivery.sequence}`);
          lastSequence = last ?? lastSequence;
          for (const id of fresh) known.add(id);
          firstSeen.push(...fresh);
        }
        const expected = ids.join(' ');
        if (firstSeen.join(' ') !== expected) {
          const at = firstSeen.findIndex((id, index) => ids[index] !== id);
          problems.push(`account ${accountId}: events reached the mirror out of order or incomplete from position ${at}`);
        }
      }

      // Every re-sent batch the mirror answered is flagged as a duplicate.
      const resentBatches = answered.length - new Set(answered.map((delivery) => delivery.batchId)).size;
      const flagged = await mirrorDatabase.db
        .selectFrom('anomalies')
        .select(sql<number>`count(*)`.as('count'))
        .where('kind', '=', 'duplicate_batch')
        .executeTakeFirstOrThrow();
      const duplicatesFlagged = Number(flagged.count);
      if (duplicatesFlagged < resentBatches)
        problems.push(`${resentBatches} batches were answered twice or more, but the mirror flagged only ${duplicatesFlagged}`);
      const openGaps = await mirrorDatabase.db
        .selectFrom('sequence_gaps')
        .select(sql<number>`count(*)`.as('count'))
        .where('closed_at', 'is', null)
        .executeTakeFirstOrThrow();
      if (Number(openGaps.count) > 0) problems.push(`the mirror reports ${openGaps.count} open sequence gaps`);
      for (const exit of unexpectedExits)
        problems.push(`${exit.process} exited by itself (${exit.code ?? exit.signal}): ${exit.output.split('\n').slice(-3).join(' | ')}`);

      for (const [kind, count] of Object.entries(chaos.injected)) injected[kind as ReceiverFault] = count;
      const ok = problems.length === 0;
      return {
        store: options.store,
        seed: options.seed,
        durationMs: options.durationMs,
        published: total,
        mirrored,
        deliveries: chaos.forwarded.length,
        injected,
        survived: Object.fromEntries(Object.entries(injected).map(([kind, count]) => [kind, ok ? count : 0])) as Record<FaultKind, number>,
        resentBatches,
        duplicatesFlagged,
        unexpectedExits,
        problems,
        ok,
      };
    } finally {
      await mirrorDatabase.close();
    }
  } finally {
    await Promise.all(processes.map((child) => child.stop()));
    await chaos?.close();
    await postgres?.destroy();
    fs.rmSync(folder, { recursive: true, force: true });
  }
}

/** The report as one machine-readable line and a short table. */
export function formatReport(report: FaultReport): string {
  const lines = [`FAULTS ${JSON.stringify(report)}`];
  lines.push(
    `fault run on ${report.store} (seed ${report.seed}, ${report.durationMs} ms): ${report.published} events published, ${report.mirrored} mirrored, ${report.deliveries} deliveries, ${report.resentBatches} re-sent batches, ${report.duplicatesFlagged} flagged as duplicates — ${report.ok ? 'OK' : 'FAILED'}`,
  );
  lines.push('  fault              injected  survived');
  for (const [kind, count] of Object.entries(report.injected))
    lines.push(`  ${kind.padEnd(18)} ${String(count).padStart(8)}  ${String(report.survived[kind as FaultKind]).padStart(8)}`);
  for (const problem of report.problems) lines.push(`  PROBLEM: ${problem}`);
  return lines.join('\n');
}
