// The bulk path: the platform's own CSV reports, imported into the mirror on both stores, twice, give the same rows.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { dropTestDatabase, testDialects } from '../../test/support/test-databases.ts';
import { loadSettings } from '../config.ts';
import { startProducer } from '../server.ts';
import { importReport, ReportError } from './import-report.ts';
import type { MirrorSchema } from './schema.ts';

const dialects = await testDialects();
const adminToken = 'lh_admin_import_test';

for (const dialect of dialects) {
  describe(`report import on ${dialect.name}`, { skip: dialect.skip }, () => {
    test('users and training reports fill the tables, and a second import changes nothing', async () => {
      const producerDb = await dialect.freshUrl();
      const producer = await startProducer(loadSettings({ db: producerDb, port: 0, adminToken, logLevel: 'silent' }, {}), {
        dispatch: false,
      });
      const database = await dialect.open<MirrorSchema>('mirror');
      try {
        const post = async (path: string, body: unknown = {}) => {
          const response = await fetch(`${producer.url}${path}`, {
            method: 'POST',
            headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
            body: JSON.stringify(body),
          });
          assert.ok(response.ok, `${path}: ${response.status}`);
          return (await response.json()) as { id: number & string; token: string };
        };
        const account = await post('/v1/accounts', { name: 'Import Co' });
        const base = `/v1/accounts/${account.id}`;
        await post(`${base}/users`, { name: 'Grace "Amazing" Hopper', email: 'grace@example.com' });
        await post(`${base}/users`, { name: 'Edsger, W. Dijkstra', email: 'ewd@example.com' });
        const course = await post(`${base}/learning-objects`, { loType: 'course', name: 'Compilers' });
        await post(`${base}/learning-objects/${course.id}/publish`);
        await post(`${base}/learning-objects/${course.id}/instances`, { name: 'Evening', seatLimit: 20, waitlistLimit: 5 });
        await post(`${base}/learning-objects/${course.id}/instances`, { name: 'Morning' });
        await post(`${base}/learning-objects`, { loType: 'learningProgram', name: 'No instances yet' });

        const report = async (name: string) => {
          const response = await fetch(`${producer.url}/primeapi/v2/reports/${name}`, {
            headers: { authorization: `Bearer ${account.token}` },
          });
          assert.equal(response.status, 200);
          return response.text();
        };
        const users = await report('users.csv');
        const training = await report('training.csv');
        const options = { accountId: account.id, now: 1 };
        const first = await importReport(database, 'users', Readable.from([users]), options);
        assert.deepEqual(first, { rows: 2, users: 2, learningObjects: 0, instances: 0 });
        const trainingResult = await importReport(database, 'training', Readable.from([training]), options);
        assert.deepEqual(trainingResult, { rows: 3, users: 0, learningObjects: 2, instances: 2 });
        const snapshot = async () => ({
          users: await database.db.selectFrom('users').selectAll().orderBy('user_id').execute(),
          los: await database.db.selectFrom('learning_objects').selectAll().orderBy('lo_id').execute(),
          instances: await database.db.selectFrom('lo_instances').selectAll().orderBy('lo_instance_id').execute(),
        });
        const before = await snapshot();
        assert.deepEqual(
          before.users.map((row) => [row.name, row.email]),
          [
            ['Grace "Amazing" Hopper', 'grace@example.com'],
            ['Edsger, W. Dijkstra', 'ewd@example.com'],
          ],
        );
        assert.deepEqual(
          before.los.map((row) => [row.lo_id, row.name, row.state]).sort(),
          [
            [course.id, 'Compilers', 'Published'],
            [before.los.find((row) => row.lo_type === 'learningProgram')?.lo_id, 'No instances yet', 'Draft'],
          ].sort(),
        );
        assert.deepEqual(
          before.instances.map((row) => [row.name, row.seat_limit, row.waitlist_limit]),
          [
            ['Evening', 20, 5],
            ['Morning', null, null],
          ],
        );
        await importReport(database, 'users', Readable.from([users]), options);
        await importReport(database, 'training', Readable.from([training]), options);
        assert.deepEqual(await snapshot(), before);
        await assert.rejects(importReport(database, 'training', Readable.from([users]), options), ReportError);
      } finally {
        await database.close();
        await producer.stop();
        await dropTestDatabase(producerDb);
      }
    });
  });
}
