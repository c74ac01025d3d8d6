// `serve --no-dispatch`, `worker` and `mirror` as real processes on a private PostgreSQL cluster that is stopped and
// started under load: every one stays up, its loops retry until the database is back, and every event the platform
// acknowledged is delivered (by the worker) and mirrored.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { sampleEvent } from '../src/catalog/index.ts';
import { type PrivatePostgres, privatePostgresUnavailable, startPrivatePostgres } from './support/private-postgres.ts';
import { testDialects } from './support/test-databases.ts';
import { testSecretKey } from './support/test-platform.ts';

const [, postgres] = await testDialects();
const unavailable = postgres?.skip || privatePostgresUnavailable() || false;
const adminToken = 'lh_admin_restart';
const total = 160;
const perRequest = 4;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Started {
  child: ChildProcess;
  /** What the process wrote to stderr, shown when the test fails. */
  log: string[];
}

function start(args: string[]): Started {
  const child = spawn(process.execPath, ['bin/learnhook.js', ...args, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const log: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => {
    log.push(String(chunk));
    if (log.length > 200) log.shift();
  });
  return { child, log };
}

const alive = (started: Started) => started.child.exitCode === null && started.child.signalCode === null;

async function waitUntil<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const result = await check();
      if (result !== undefined) return result;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

async function stop(started: Started | undefined): Promise<void> {
  if (!started || !alive(started)) return;
  const exited = new Promise((resolve) => started.child.once('exit', resolve));
  started.child.kill('SIGTERM');
  await exited;
}

describe('PostgreSQL restarts under load', { skip: unavailable }, () => {
  test('serve, worker and mirror stay up and lose nothing the platform acknowledged', async () => {
    let cluster: PrivatePostgres | undefined;
    let serve: Started | undefined;
    let worker: Started | undefined;
    let mirror: Started | undefined;
    let finished = false;
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'learnhook-restart-'));
    try {
      cluster = await startPrivatePostgres();
      const producerDb = await cluster.createDatabase('producer');
      const mirrorDb = await cluster.createDatabase('mirror');
      const [servePort, mirrorPort] = [await freePort(), await freePort()];
      const api = `http://127.0.0.1:${servePort}`;
      const mirrorUrl = `http://127.0.0.1:${mirrorPort}`;
      // Both start at once (a process start takes seconds on a busy machine): the webhook uses basic auth, bound to an
      // account id chosen here, so the mirror needs nothing from the platform to start.
      const accountId = 7001;
      // serve only answers the API; the worker delivers. Both seal webhook passwords with the same key.
      const delivery = ['--retry-initial', '100ms', '--retry-max', '1s', '--poll-interval', '100ms', '--batch-max', '20'];
      const shared = ['--db', producerDb, '--allow-private-targets', '--data-dir', dataDir, '--secret-key', testSecretKey];
      serve = start(['serve', '--no-dispatch', '--port', String(servePort), '--admin-token', adminToken, ...shared, ...delivery]);
      worker = start(['worker', ...shared, ...delivery]);
      mirror = start(['mirror', '--db', mirrorDb, '--port', String(mirrorPort), '--basic-auth', `${accountId}=platform:s3cret`]);
      await waitUntil('serve is up', async () => ((await fetch(`${api}/healthz`)).ok ? true : undefined));
      await waitUntil('the mirror is up', async () => ((await fetch(`${mirrorUrl}/healthz`)).ok ? true : undefined)).catch((error) => {
        throw new Error(`${(error as Error).message}:\n${mirror?.log.join('')}`);
      });
      const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
        const response = await fetch(`${api}${path}`, {
          method,
          headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${await response.text()}`);
        return (await response.json()) as T;
      };
      const account = await call<{ id: number }>('POST', '/v1/accounts', { id: accountId, name: 'Restart Academy' });
      await call('POST', `/v1/accounts/${account.id}/webhooks`, {
        name: 'mirror',
        url: `${mirrorUrl}/webhook`,
        events: ['COURSE_ENROLLMENT'],
        auth: { type: 'basic', username: 'platform', password: 's3cret' },
      });

      // Two clients publish events 4 at a time; a request that fails (the database is down) is sent again until the
      // platform acknowledges it: publishing is idempotent by eventId.
      const acknowledged = new Set<string>();
      let next = 0;
      let failedRequests = 0;
      /** How each refused publish was answered: during an outage, 503 with retry-after, never a 500. */
      const refusals = new Set<string>();
      const event = sampleEvent('COURSE_ENROLLMENT');
      const client = async () => {
        while (next < total && !finished) {
          const first = next;
          next += perRequest;
          const events = Array.from({ length: perRequest }, (_, index) => ({
            ...event,
            eventId: `restart-${first + index}`,
            timestamp: new Date(Date.UTC(2026, 0, 1) + first + index).toISOString(),
            data: { ...event.data, userId: first + index + 1 },
          }));
          while (!finished) {
            try {
              await call('POST', `/v1/accounts/${account.id}/events`, { events });
              for (const published of events) acknowledged.add(published.eventId);
              break;
            } catch (error) {
              refusals.add(/answered (\d+)/.exec((error as Error).message)?.[1] ?? (error as Error).message);
              failedRequests++;
              await sleep(100);
            }
          }
        }
      };
      const load = Promise.all([client(), client()]);
      await waitUntil('a third of the events are acknowledged', async () => (acknowledged.size >= total / 3 ? true : undefined));
      await cluster.stop();
      // A few seconds down, under load: every loop of both processes meets the outage.
      await sleep(3000);
      assert.ok(alive(serve), `serve exited while PostgreSQL was down:\n${serve.log.join('')}`);
      assert.ok(alive(mirror), `the mirror exited while PostgreSQL was down:\n${mirror.log.join('')}`);
      assert.ok(alive(worker), `the worker exited while PostgreSQL was down:\n${worker.log.join('')}`);
      await cluster.start();
      await load;
      assert.equal(acknowledged.size, total);
      assert.ok(failedRequests > 0, 'some publish requests met the outage');
      assert.deepEqual([...refusals], ['503'], 'a publish that meets the outage is answered 503 (try again), not 500');

      const database = new pg.Client({ connectionString: mirrorDb });
      await database.connect();
      try {
        const mirrored = await waitUntil(
          'every acknowledged event is mirrored',
          async () => {
            const { rows } = await database.query<{ event_id: string }>('SELECT event_id FROM processed_events WHERE account_id = $1', [
              account.id,
            ]);
            return rows.length >= total ? rows : undefined;
          },
          90_000,
        ).catch(async (error) => {
          throw new Error(
            `${(error as Error).message}\nserve:\n${serve?.log.join('')}\nworker:\n${worker?.log.join('')}\nmirror:\n${mirror?.log.join('')}`,
          );
        });
        const ids = new Set(mirrored.map((row) => row.event_id));
        assert.deepEqual(
          [...acknowledged].filter((id) => !ids.has(id)),
          [],
        );
        const { rows } = await database.query('SELECT count(*)::int AS n FROM enrollments WHERE account_id = $1', [account.id]);
        assert.equal(rows[0].n, total, 'one enrollment per event');
      } finally {
        await database.end();
      }
      assert.ok(alive(serve), `serve exited after the restart:\n${serve.log.join('')}`);
      assert.ok(alive(mirror), `the mirror exited after the restart:\n${mirror.log.join('')}`);
      assert.ok(alive(worker), `the worker exited after the restart:\n${worker.log.join('')}`);
    } finally {
      finished = true;
      await stop(mirror);
      await stop(worker);
      await stop(serve);
      await cluster?.destroy();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
