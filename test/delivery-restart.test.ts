// Restart safety: `kill -9` of a real `learnhook serve` mid-burst, then a restart; the receiver ends with every event, in order.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseSequenceRange } from '../src/catalog/index.ts';
import { runAheadLimit } from '../src/delivery/run-ahead.ts';
import { appendEvents, newEvent } from '../src/platform/event-log.ts';
import { type Database, openDatabase } from '../src/store/database.ts';
import type { ProducerSchema } from '../src/store/schema.ts';
import { dropTestDatabase, testDialects } from './support/test-databases.ts';
import { startReceiver } from './support/test-receiver.ts';

const dialects = await testDialects();
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const adminToken = 'restart-test-admin';

/** Starts `learnhook serve` and resolves with its API URL once it prints it. */
function serve(databaseUrl: string, dataDir: string): Promise<{ child: ChildProcess; api: string }> {
  const child = spawn(
    process.execPath,
    [
      path.join(root, 'bin/learnhook.js'),
      'serve',
      ...['--db', databaseUrl, '--data-dir', dataDir, '--port', '0', '--admin-token', adminToken, '--allow-private-targets'],
      ...[
        // A short lease: on SQLite the restarted serve takes back what the killed one held once it expires.
        '--lease',
        '3s',
        '--connect-timeout',
        '1s',
        '--socket-timeout',
        '1s',
        '--poll-interval',
        '100ms',
        '--batch-max',
        '5',
        '--retry-initial',
        '100ms',
        '--retry-max',
        '400ms',
        '--log-level',
        'warn',
      ],
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start within 120 s: ${output}`)), 120_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /API\s+(\S+)\/v1/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve({ child, api: match[1] });
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${output}`)));
  });
}

async function api(base: string, method: string, url: string, body?: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${base}${url}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const json = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`${method} ${url} answered ${response.status}: ${JSON.stringify(json)}`);
  return json;
}

for (const dialect of dialects) {
  describe(`restart safety on ${dialect.name}`, { skip: dialect.skip }, () => {
    const children: ChildProcess[] = [];
    after(() => {
      for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    });

    test('kill -9 during a burst, restart: every event arrives in order; repeats only as re-sent batches with their old webhook-id', async () => {
      const receiver = await startReceiver((_, index) => ({ status: 202, delayMs: 5 + (index % 3) }));
      const databaseUrl = await dialect.freshUrl();
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'learnhook-restart-'));
      let database: Database<ProducerSchema> | undefined;
      try {
        const first = await serve(databaseUrl, dataDir);
        children.push(first.child);
        const account = await api(first.api, 'POST', '/v1/accounts', { name: 'restart' });
        const accountId = Number(account.id);
        await api(first.api, 'POST', `/v1/accounts/${accountId}/webhooks`, {
          name: 'w',
          url: receiver.url,
          events: ['LEARNING_OBJECT_DRAFT'],
          auth: { type: 'none' },
        });
        database = await openDatabase<ProducerSchema>(databaseUrl);
        const ids: string[] = [];
        const appendChunk = async (chunk: number) => {
          const events = Array.from({ length: 10 }, (_, index) =>
            newEvent('LEARNING_OBJECT_DRAFT', { loId: `course:${chunk * 10 + index + 1}`, loType: 'course' }, Date.now(), `burst-${chunk}`),
          );
          await database?.db.transaction().execute((trx) => appendEvents(trx, accountId, events, Date.now()));
          ids.push(...events.map((event) => event.eventId));
        };
        let chunk = 0;
        for (; chunk < 10; chunk++) await appendChunk(chunk);
        await receiver.waitFor(() => receiver.deliveries.length >= 6);
        first.child.kill('SIGKILL');
        await new Promise((resolve) => first.child.once('exit', resolve));
        const beforeRestart = receiver.deliveries.length;
        for (; chunk < 20; chunk++) await appendChunk(chunk);

        const second = await serve(databaseUrl, dataDir);
        children.push(second.child);
        const distinct = () => new Set(receiver.acknowledgedEvents()).size;
        await receiver.waitFor(() => distinct() === ids.length);
        second.child.kill('SIGTERM');
        await new Promise((resolve) => second.child.once('exit', resolve));

        assert.ok(beforeRestart < ids.length / 5, 'the kill came mid-burst');
        const seen = new Set<string>();
        const order: string[] = [];
        const bodyOfBatch = new Map<string, string>();
        const sequenceOfBatch = new Map<string, string>();
        let repeated = 0;
        let lastSequence = 0;
        for (const delivery of receiver.deliveries) {
          const batchId = String(delivery.headers['webhook-id']);
          const eventIds = delivery.body.events.map((event) => event.eventId);
          const repeats = eventIds.filter((id) => seen.has(id));
          if (repeats.length > 0) {
            assert.equal(repeats.length, eventIds.length, 'a repeat is a whole batch');
            assert.equal(
              bodyOfBatch.get(batchId),
              delivery.raw,
              'a repeat is a batch sent before, with its old webhook-id and the same events',
            );
            assert.equal(sequenceOfBatch.get(batchId), String(delivery.headers['learnhook-sequence']), 'a repeat keeps its sequence range');
            repeated++;
            continue;
          }
          assert.ok(!bodyOfBatch.has(batchId), 'a batch id is never reused for other events');
          const range = parseSequenceRange(String(delivery.headers['learnhook-sequence']));
          assert.equal(range?.first, lastSequence + 1, 'the delivery sequence has no gap');
          lastSequence = range?.last ?? lastSequence;
          bodyOfBatch.set(batchId, delivery.raw);
          sequenceOfBatch.set(batchId, String(delivery.headers['learnhook-sequence']));
          for (const id of eventIds) seen.add(id);
          order.push(...eventIds);
        }
        assert.deepEqual(order, ids);
        // Only acknowledgements not yet recorded, and the batch in flight, can be sent again.
        assert.ok(repeated <= runAheadLimit.batches + 1, `${repeated} batches were sent again`);
      } finally {
        await database?.close();
        await receiver.close();
        await dropTestDatabase(databaseUrl).catch(() => {});
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
}
