// kill -9 of a real `learnhook mirror` process mid-burst: every batch it answered 202 to is in its tables after restart.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Webhook } from 'standardwebhooks';
import { sampleEvent } from '../src/catalog/index.ts';
import type { MirrorStatus } from '../src/mirror/read-status.ts';
import type { MirrorSchema } from '../src/mirror/schema.ts';
import { openDatabase } from '../src/store/database.ts';
import { type LearnhookProcess, learnhookProcess } from './support/learnhook-process.ts';
import { dropTestDatabase, testDialects } from './support/test-databases.ts';

const dialects = await testDialects();
const secret = `whsec_${randomBytes(24).toString('base64')}`;
const accountId = 21;
const eventsPerBatch = 3;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The mirror process; ready once it prints that it is running (start-up takes far longer on a loaded machine). */
function mirrorProcess(db: string, port: number): LearnhookProcess {
  return learnhookProcess('mirror', ['mirror', '--db', db, '--port', String(port), '--secret', secret], (exit) => {
    throw new Error(`the mirror exited by itself (${exit.code ?? exit.signal}): ${exit.output}`);
  });
}

function batchBody(batch: number): string {
  const events = Array.from({ length: eventsPerBatch }, (_, index) => {
    const event = sampleEvent('COURSE_ENROLLMENT');
    return {
      ...event,
      eventId: `kill-${batch}-${index}`,
      timestamp: new Date(Date.UTC(2026, 0, 1) + batch * 1000 + index).toISOString(),
      data: { ...event.data, userId: batch * 10 + index + 1 },
    };
  });
  return JSON.stringify({ accountId, events });
}

async function post(base: string, batch: number): Promise<boolean> {
  const body = batchBody(batch);
  const id = `msg_kill_${batch}`;
  const signedAt = new Date(Math.floor(Date.now() / 1000) * 1000);
  try {
    const response = await fetch(`${base}/webhook`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': String(signedAt.getTime() / 1000),
        'webhook-signature': new Webhook(secret).sign(id, signedAt, body),
        'learnhook-sequence': `${batch * eventsPerBatch + 1}-${batch * eventsPerBatch + eventsPerBatch}`,
      },
      body,
    });
    await response.arrayBuffer();
    return response.status === 202;
  } catch {
    return false;
  }
}

for (const dialect of dialects) {
  describe(`mirror kill -9 on ${dialect.name}`, { skip: dialect.skip }, () => {
    test('every batch answered 202 before the kill is in the tables after a restart', async () => {
      const db = await dialect.freshUrl();
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const mirror = mirrorProcess(db, port);
      try {
        await mirror.start();
        const acknowledged: number[] = [];
        let next = 0;
        const total = 600;
        // Eight clients post at once; the process is killed once 150 batches are acknowledged.
        const client = async () => {
          while (next < total) {
            const batch = next++;
            if (await post(base, batch)) acknowledged.push(batch);
            if (acknowledged.length === 150) killed = mirror.kill();
          }
        };
        let killed: Promise<void> | undefined;
        await Promise.all(Array.from({ length: 8 }, client));
        assert.ok(killed, 'the mirror was killed');
        await killed;
        assert.ok(acknowledged.length >= 150 && acknowledged.length < total, `acknowledged ${acknowledged.length} of ${total}`);

        await mirror.start();
        let status: MirrorStatus | undefined;
        // Another process: nothing to listen to but its /status; the deadline only bounds a hung test.
        for (let attempt = 0; attempt < 1200; attempt++) {
          status = (await (await fetch(`${base}/status`)).json()) as MirrorStatus;
          if (status.inbox.backlog === 0) break;
          await sleep(100);
        }
        assert.equal(status?.inbox.backlog, 0, 'the restarted mirror applied its whole inbox');

        const database = await openDatabase<MirrorSchema>(db);
        try {
          const rows = await database.db.selectFrom('enrollments').select('user_id').where('account_id', '=', accountId).execute();
          const users = new Set(rows.map((row) => row.user_id));
          const missing = acknowledged.flatMap((batch) =>
            Array.from({ length: eventsPerBatch }, (_, index) => batch * 10 + index + 1).filter((user) => !users.has(user)),
          );
          assert.deepEqual(missing, [], 'every acknowledged event is in the enrollments table');
          const processed = await database.db
            .selectFrom('processed_events')
            .select('event_id')
            .where('account_id', '=', accountId)
            .execute();
          assert.ok(processed.length >= acknowledged.length * eventsPerBatch);
        } finally {
          await database.close();
        }
      } finally {
        await mirror.stop();
        await dropTestDatabase(db);
      }
    });
  });
}
