// A cluster on one PostgreSQL (issue 8): 2 `serve --no-dispatch`, 3 `worker` and 2 `mirror` processes (the mirrors on a
// database of their own, behind one round-robin address), 50 accounts written through both serves at once, a worker
// killed with kill -9 twice and a mirror once; at the end every event reached its receiver in order per webhook, none
// was lost, a batch came twice only as the same batch (same webhook-id) re-sent in order after a kill, and the mirrors'
// tables equal the platform's.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventNames, sampleEvent, webhookIdHeader } from '../src/catalog/index.ts';
import { runAheadLimit } from '../src/delivery/run-ahead.ts';
import type { MirrorStatus } from '../src/mirror/read-status.ts';
import type { MirrorSchema } from '../src/mirror/schema.ts';
import { PlatformClient } from '../src/simulate/platform-client.ts';
import { openDatabase } from '../src/store/database.ts';
import type { ProducerSchema } from '../src/store/schema.ts';
import { type LearnhookProcess, learnhookProcess, type UnexpectedExit } from './support/learnhook-process.ts';
import { allPages, assertMirrorMatchesPlatform } from './support/mirror-matches-platform.ts';
import { startRoundRobinProxy } from './support/round-robin-proxy.ts';
import { dropTestDatabase, testDialects } from './support/test-databases.ts';
import { testSecretKey } from './support/test-platform.ts';
import { freePort, type ReceivedDelivery, startReceiver } from './support/test-receiver.ts';

const [, postgres] = await testDialects();
const adminToken = 'lh_admin_cluster';
const accountIds = Array.from({ length: 50 }, (_, index) => 9001 + index);
/** Published raw through the events API from both serves; the mirrors' webhooks leave it out (see below). */
const rawEvent = 'CI_STATS';

interface Webhooks {
  /** To the recording receiver: every event of the account, to check order per webhook. */
  recorded: string;
  /** To the mirrors behind the proxy. */
  mirrored: string;
}

/**
 * The deliveries of one webhook to the recording receiver, in arrival order, checked against the account's log. Each
 * batch has a position: the order in which new batch ids arrived, which must carry exactly the log. A delivery is the
 * next position, or a re-send (a webhook-id seen before, with the same events) that goes back at most the run-ahead
 * limit: after a `kill -9` the next worker sends again, in order, the acknowledged batches whose acknowledgement was
 * not yet recorded and the batch in flight (docs/delivery.md), then goes on. Anything else (a batch skipped, a re-send
 * out of order, two processes sending at once) is a problem. Answers the problems found and the number of re-sends.
 */
function orderProblems(accountId: number, deliveries: ReceivedDelivery[], log: string[]): { problems: string[]; resent: number } {
  const problems: string[] = [];
  const batches = new Map<string, { position: number; events: string }>();
  const delivered: string[] = [];
  let previous = -1;
  let resent = 0;
  for (const delivery of deliveries) {
    const batchId = String(delivery.headers[webhookIdHeader]);
    const events = delivery.body.events.map((event) => event.eventId).join(' ');
    let batch = batches.get(batchId);
    if (batch === undefined) {
      batch = { position: batches.size, events };
      batches.set(batchId, batch);
      delivered.push(...delivery.body.events.map((event) => event.eventId));
    } else {
      resent++;
      if (batch.events !== events) problems.push(`account ${accountId}: batch ${batchId} was sent again with other events`);
    }
    const { position } = batch;
    if (position > previous + 1)
      problems.push(`account ${accountId}: batch ${batchId} (position ${position}) came right after position ${previous}`);
    if (position <= previous && previous - position > runAheadLimit.batches)
      problems.push(
        `account ${accountId}: batch ${batchId} was sent again ${previous - position} batches back, beyond the run-ahead limit`,
      );
    previous = position;
  }
  if (delivered.join(' ') !== log.join(' ')) {
    const at = log.findIndex((id, index) => delivered[index] !== id);
    problems.push(
      `account ${accountId}: ${delivered.length} events delivered for a log of ${log.length}, first difference at position ${at}` +
        ` (delivered ${delivered[at]}, logged ${log[at]})`,
    );
  }
  return { problems, resent };
}

describe('a cluster of serve, worker and mirror processes on one PostgreSQL', { skip: postgres?.skip ?? 'no PostgreSQL' }, () => {
  test('2 serve, 3 worker, 2 mirror; kill -9 of a worker twice and of a mirror once: in order, nothing lost, mirrors equal the platform', async (t) => {
    if (!postgres) return;
    const startedAt = Date.now();
    const note = (line: string) => t.diagnostic(line);
    const elapsed = () => `${((Date.now() - startedAt) / 1000).toFixed(1)} s`;
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'learnhook-cluster-'));
    const producerDb = await postgres.freshUrl();
    const mirrorDb = await postgres.freshUrl();
    const receiver = await startReceiver();
    const unexpectedExits: UnexpectedExit[] = [];
    const processes: LearnhookProcess[] = [];
    const spawnProcess = (name: string, args: string[]) => {
      const started = learnhookProcess(name, args, (exit) => unexpectedExits.push(exit));
      processes.push(started);
      return started;
    };
    const clients: PlatformClient[] = [];
    let proxy: Awaited<ReturnType<typeof startRoundRobinProxy>> | undefined;
    try {
      const servePorts = [await freePort(), await freePort()];
      const mirrorPorts = [await freePort(), await freePort()];
      // Seven processes and their sessions stay well inside the shared server's max_connections (100).
      const pool = ['--db-pool', '4'];
      const shared = ['--db', producerDb, '--secret-key', testSecretKey, '--data-dir', folder, '--allow-private-targets', ...pool];
      for (const [index, port] of servePorts.entries()) {
        spawnProcess(`serve-${index + 1}`, [
          ...['serve', '--no-dispatch', '--port', String(port), '--admin-token', adminToken, '--progress-delay', '0s', ...shared],
        ]);
      }
      const delivery = [
        '--poll-interval',
        '200ms',
        '--lease',
        '5s',
        '--connect-timeout',
        '1s',
        '--socket-timeout',
        '2s',
        '--retry-initial',
        '100ms',
        '--retry-max',
        '1s',
        '--batch-max',
        '10',
      ];
      const workers = [1, 2, 3].map((number) => spawnProcess(`worker-${number}`, ['worker', ...delivery, ...shared]));
      const api = `http://127.0.0.1:${servePorts[0]}`;
      // Basic auth bound to each account chosen here: the mirrors need nothing from the platform to start.
      const basicAuth = accountIds.map((id) => `${id}=platform:cluster-${id}`).join(',');
      const mirrors = mirrorPorts.map((port, index) =>
        spawnProcess(`mirror-${index + 1}`, [
          ...['mirror', '--port', String(port), '--db', mirrorDb, '--data-dir', folder, '--basic-auth', basicAuth, ...pool],
          ...['--api', api, '--api-token', adminToken, '--enrich-rate-limit', '100000'],
        ]),
      );
      proxy = await startRoundRobinProxy(mirrorPorts.map((port) => `http://127.0.0.1:${port}`));
      await Promise.all(processes.map((started) => started.start()));
      note(`7 processes running after ${elapsed()}`);

      const serveClients = servePorts.map((port) => new PlatformClient(`http://127.0.0.1:${port}`, adminToken));
      clients.push(...serveClients);
      const [first, second] = serveClients as [PlatformClient, PlatformClient];
      // Accounts and their webhooks before any event, so each webhook's log is the whole account log.
      const webhooks = new Map<number, Webhooks>();
      await Promise.all(
        accountIds.map(async (id, index) => {
          const client = index % 2 === 0 ? first : second;
          await client.expect('POST', '/v1/accounts', { id, name: `Cluster Academy ${id}` });
          const recorded = await client.expect<{ id: string }>('POST', `/v1/accounts/${id}/webhooks`, {
            name: 'recorder',
            url: receiver.url,
            events: [...eventNames],
            auth: { type: 'signature' },
          });
          // The raw events carry made-up instances the platform does not hold: the mirrors are not sent them, so their
          // tables can be held to the platform's.
          const mirrored = await client.expect<{ id: string }>('POST', `/v1/accounts/${id}/webhooks`, {
            name: 'mirror',
            url: `${proxy?.url}/webhook`,
            events: eventNames.filter((name) => name !== rawEvent),
            auth: { type: 'basic', username: 'platform', password: `cluster-${id}` },
          });
          webhooks.set(id, { recorded: recorded.id, mirrored: mirrored.id });
        }),
      );

      // The faults, at fixed points of the platform actions' progress: worker-1 killed, mirror-1 killed and started
      // again, worker-2 killed. The workers stay down (a start costs seconds of CPU on a small machine): what they held
      // must move to the others for good, and worker-3 delivers the rest alone.
      let steps = 0;
      let faults: Promise<void> = Promise.resolve();
      const [worker1, worker2] = workers as [LearnhookProcess, LearnhookProcess];
      const [mirror1] = mirrors as [LearnhookProcess];
      const faultAt = new Map<number, () => Promise<void>>([
        [100, () => worker1.kill()],
        [200, () => mirror1.kill().then(() => mirror1.start())],
        [300, () => worker2.kill()],
      ]);
      const injected: number[] = [];
      const step = async <T>(client: PlatformClient, method: 'POST' | 'PATCH', url: string, body?: unknown) => {
        const answer = await client.expect<T>(method, url, body);
        steps++;
        const fault = faultAt.get(steps);
        if (fault) {
          injected.push(steps);
          faults = faults.then(fault);
        }
        return answer;
      };

      // Platform actions, each account's alternating between the two serves: two learners, a published course with an
      // instance, both enrolled, one part way through, the other completed.
      let publishing = true;
      const actOn = async (accountId: number) => {
        const base = `/v1/accounts/${accountId}`;
        const learners = [];
        for (const [index, client] of [first, second].entries()) {
          learners.push(
            (
              await step<{ id: number }>(client, 'POST', `${base}/users`, {
                name: `Learner ${index + 1}`,
                email: `l${index + 1}.${accountId}@example.com`,
              })
            ).id,
          );
        }
        const [one, two] = learners;
        const course = await step<{ id: string }>(first, 'POST', `${base}/learning-objects`, {
          loType: 'course',
          name: `Course of ${accountId}`,
        });
        await step(second, 'POST', `${base}/learning-objects/${course.id}/publish`);
        const instance = await step<{ id: string }>(first, 'POST', `${base}/learning-objects/${course.id}/instances`, { name: 'Spring' });
        const enrollment = (userId: number | undefined) => ({ userId, loInstanceId: instance.id, actor: 'learner' });
        await step(second, 'POST', `${base}/enrollments`, enrollment(one));
        await step(first, 'POST', `${base}/enrollments`, enrollment(two));
        await step(second, 'POST', `${base}/enrollments/progress`, { ...enrollment(one), progressPercent: 40 });
        await step(first, 'POST', `${base}/enrollments/complete`, { ...enrollment(two), hasPassed: true });
        await step(second, 'PATCH', `${base}/learning-objects/${course.id}`, { name: `Course of ${accountId}, second edition` });
      };
      // Ten accounts at a time.
      const queue = [...accountIds];
      const actions = Promise.all(
        Array.from({ length: 10 }, async () => {
          for (let accountId = queue.shift(); accountId !== undefined; accountId = queue.shift()) await actOn(accountId);
        }),
      ).finally(() => {
        publishing = false;
      });
      // Raw publishing at the same time through both serves, to every account: each serve's requests interleave with the
      // other's and with the actions in the same account logs. A refused request is a failure (no fault hits a serve).
      const published = new Set<string>();
      let counter = 0;
      const publisher = async (client: PlatformClient) => {
        while (publishing) {
          const accountId = accountIds[counter % accountIds.length] as number;
          const events = [0, 1].map(() => {
            const sample = sampleEvent(rawEvent);
            counter++;
            return {
              ...sample,
              eventId: `cluster-raw-${counter}`,
              timestamp: new Date().toISOString(),
              data: { ...sample.data, loInstanceId: `course:999999_${counter}` },
            };
          });
          await client.expect('POST', `/v1/accounts/${accountId}/events`, { events });
          for (const event of events) published.add(event.eventId);
          await sleep(20);
        }
      };
      await Promise.all([actions, publisher(first), publisher(second)]);
      await faults;
      note(`publishing ended after ${elapsed()}: ${steps} platform actions, ${published.size} raw events`);
      assert.deepEqual(injected, [...faultAt.keys()], 'every fault was injected');

      // Settled: every account's log reached the receiver, the mirrors' webhooks have nothing left to send, and both
      // mirrors have applied and enriched everything. Other processes: nothing to listen to, so this polls; the deadline
      // only bounds a run that would otherwise hang.
      const logs = new Map<number, string[]>();
      const deliveriesOf = (accountId: number) => receiver.deliveries.filter((delivery) => delivery.body.accountId === accountId);
      const settleBy = Date.now() + 60_000;
      const producer = await openDatabase<ProducerSchema>(producerDb);
      try {
        for (;;) {
          const pending: string[] = [];
          // Progress events wait in scheduled_events until a process releases them into the log.
          const scheduled = await producer.db.selectFrom('scheduled_events').select('id').execute();
          if (scheduled.length > 0) pending.push(`${scheduled.length} scheduled events`);
          for (const id of accountIds) {
            const log = (await allPages<{ eventId: string }>(first, `/v1/accounts/${id}/events`, 'events', 'after')).map(
              (event) => event.eventId,
            );
            logs.set(id, log);
            const received = new Set(deliveriesOf(id).flatMap((delivery) => delivery.body.events.map((event) => event.eventId)));
            if (log.some((eventId) => !received.has(eventId))) pending.push(`account ${id}: receiver`);
            const stats = await second.expect<{ backlog: number; batchInFlight: unknown }>(
              'GET',
              `/v1/accounts/${id}/webhooks/${webhooks.get(id)?.mirrored}/stats`,
            );
            if (stats.backlog > 0 || stats.batchInFlight !== null) pending.push(`account ${id}: mirror webhook backlog ${stats.backlog}`);
            if (pending.length > 0) break;
          }
          for (const port of mirrorPorts) {
            const status = (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as MirrorStatus;
            if (status.inbox.backlog > 0 || status.enrichment.queued > 0)
              pending.push(`mirror on ${port}: ${JSON.stringify(status.inbox)}`);
          }
          if (pending.length === 0) break;
          if (Date.now() > settleBy) {
            const exits = unexpectedExits.map((exit) => `${exit.process} (${exit.code ?? exit.signal}): ${exit.output}`);
            assert.fail(`not settled within 60 s: ${pending.join('; ')}\n${exits.join('\n')}`);
          }
          await sleep(250);
        }
      } finally {
        await producer.close();
      }

      const logged = new Set([...logs.values()].flat());
      const resent = receiver.deliveries.length - new Set(receiver.deliveries.map((d) => String(d.headers[webhookIdHeader]))).size;
      note(
        `settled after ${elapsed()}: ${logged.size} events, ${receiver.deliveries.length} deliveries to the receiver (${resent} re-sent), mirrors answered ${JSON.stringify(proxy.answered)}, ${proxy.skipped} skipped while a mirror was down`,
      );
      assert.deepEqual(
        unexpectedExits.map((exit) => `${exit.process} (${exit.code ?? exit.signal}): ${exit.output}`),
        [],
        'no process exited by itself',
      );
      // None lost: every raw event a serve accepted is in its account's log (the actions' events are the log).
      assert.deepEqual(
        [...published].filter((eventId) => !logged.has(eventId)),
        [],
        'every accepted raw event is in the log',
      );
      // In order per webhook, every event once, a duplicate only as the same batch sent again.
      const checked = accountIds.map((id) => orderProblems(id, deliveriesOf(id), logs.get(id) ?? []));
      note(`re-sent to the receiver, per account: ${checked.map((check) => check.resent).join(' ')}`);
      assert.deepEqual(
        checked.flatMap((check) => check.problems),
        [],
      );
      assert.ok(
        proxy.answered.every((count) => count > 0),
        `both mirrors accepted deliveries: ${JSON.stringify(proxy.answered)}`,
      );

      // The mirrors' tables equal the platform's state, account by account, and no delivery sequence gap stayed open.
      const database = await openDatabase<MirrorSchema>(mirrorDb);
      try {
        for (const id of accountIds) await assertMirrorMatchesPlatform(first, database.db, id, { users: true });
        const gaps = await database.db.selectFrom('sequence_gaps').select('account_id').where('closed_at', 'is', null).execute();
        assert.deepEqual(gaps, [], 'no delivery sequence gap stays open in the mirror');
      } finally {
        await database.close();
      }
    } finally {
      await Promise.all(processes.map((started) => started.stop()));
      await Promise.all(clients.map((client) => client.close()));
      await proxy?.close();
      await receiver.close();
      await dropTestDatabase(producerDb);
      await dropTestDatabase(mirrorDb);
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });
});
