// kill -9 of a real `learnhook serve` mid-burst: every publish and enrollment it answered is in its database afterwards, every log gap-free.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { sampleEvent } from '../src/catalog/index.ts';
import { openDatabase } from '../src/store/database.ts';
import type { ProducerSchema } from '../src/store/schema.ts';
import { learnhookProcess } from './support/learnhook-process.ts';
import { dropTestDatabase, testDialects } from './support/test-databases.ts';

const dialects = await testDialects();
const adminToken = `lh_admin_${randomBytes(8).toString('hex')}`;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

for (const dialect of dialects) {
  describe(`serve kill -9 on ${dialect.name}`, { skip: dialect.skip }, () => {
    test('every publish and every enrollment answered before the kill is stored, and every log is gap-free', async () => {
      const db = await dialect.freshUrl();
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'learnhook-publish-kill-'));
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const serve = learnhookProcess(
        'serve',
        ['serve', '--db', db, '--data-dir', dataDir, '--port', String(port), '--admin-token', adminToken, '--no-dispatch'],
        (exit) => {
          throw new Error(`serve exited by itself (${exit.code ?? exit.signal}): ${exit.output}`);
        },
      );
      const call = async (method: string, url: string, body: unknown, token = adminToken) => {
        const response = await fetch(`${base}${url}`, {
          method,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        return { status: response.status, json: (await response.json()) as Record<string, unknown> };
      };
      try {
        await serve.start();
        const accounts: { id: number; token: string; instance: string; users: number[] }[] = [];
        for (let index = 0; index < 4; index++) {
          const account = (await call('POST', '/v1/accounts', { name: `Kill ${index}` })).json;
          const token = String(account.token);
          const prefix = `/v1/accounts/${account.id}`;
          const course = (await call('POST', `${prefix}/learning-objects`, { loType: 'course', name: 'C', via: 'migration' }, token)).json
            .id;
          const instance = String((await call('POST', `${prefix}/learning-objects/${course}/instances`, { name: 'I' }, token)).json.id);
          const users: number[] = [];
          for (let user = 0; user < 150; user++)
            users.push(Number((await call('POST', `${prefix}/users`, { name: `U${user}`, email: `u${user}@example.com` }, token)).json.id));
          accounts.push({ id: Number(account.id), token, instance, users });
        }

        const published: string[] = [];
        const enrolled: { userId: number; instance: string }[] = [];
        let next = 0;
        let killed: Promise<void> | undefined;
        // Eight clients: even requests publish two raw events, odd ones enroll a learner; the process is killed at 200 answers.
        const client = async () => {
          while (next < 1000 && !killed) {
            const request = next++;
            const account = accounts[request % accounts.length] as (typeof accounts)[number];
            const prefix = `/v1/accounts/${account.id}`;
            try {
              if (request % 2 === 0) {
                const events = [0, 1].map((index) => ({ ...sampleEvent('COURSE_COMPLETED'), eventId: `kill-${request}-${index}` }));
                const answer = await call('POST', `${prefix}/events`, { events }, account.token);
                if (answer.status === 200) published.push(...events.map((event) => event.eventId));
              } else {
                const userId = account.users[Math.floor(request / accounts.length / 2)] as number;
                const answer = await call(
                  'POST',
                  `${prefix}/enrollments`,
                  { userId, loInstanceId: account.instance, actor: 'learner' },
                  account.token,
                );
                if (answer.status === 201) enrolled.push({ userId, instance: account.instance });
              }
            } catch {
              // The connection died with the process: not answered, so not promised.
            }
            if (published.length / 2 + enrolled.length >= 200) killed ??= serve.kill();
          }
        };
        await Promise.all(Array.from({ length: 8 }, client));
        assert.ok(killed, 'serve was killed');
        await killed;

        const database = await openDatabase<ProducerSchema>(db);
        try {
          const events = await database.db
            .selectFrom('events')
            .select(['account_id', 'seq', 'event_id'])
            .orderBy('account_id')
            .orderBy('seq')
            .execute();
          const stored = new Set(events.map((event) => event.event_id));
          assert.deepEqual(
            published.filter((eventId) => !stored.has(eventId)),
            [],
            'every event of an answered publish is stored',
          );
          const enrollments = await database.db.selectFrom('enrollments').select(['user_id', 'lo_instance_id']).execute();
          const storedEnrollments = new Set(enrollments.map((row) => `${row.user_id}@${row.lo_instance_id}`));
          assert.deepEqual(
            enrolled.filter((enrollment) => !storedEnrollments.has(`${enrollment.userId}@${enrollment.instance}`)),
            [],
            'every answered enrollment is stored',
          );
          for (const account of accounts) {
            const seqs = events.filter((event) => event.account_id === account.id).map((event) => event.seq);
            assert.deepEqual(
              seqs,
              seqs.map((_, index) => index + 1),
              `account ${account.id}'s log is gap-free`,
            );
            const head = await database.db.selectFrom('accounts').select('last_seq').where('id', '=', account.id).executeTakeFirstOrThrow();
            assert.equal(head.last_seq, seqs.length, 'the log head matches the log');
          }
        } finally {
          await database.close();
        }
      } finally {
        await serve.stop();
        await dropTestDatabase(db);
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
}
