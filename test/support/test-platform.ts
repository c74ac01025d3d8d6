// For API tests: a producer app on a fresh database of one dialect, a request helper, and a snapshot of everything stored.
import type { LightMyRequestResponse } from 'fastify';
import { buildApp, type LearnhookApp } from '../../src/api/app.ts';
import { loadSettings, type Settings } from '../../src/config.ts';
import { createProducerContext, type ProducerContext } from '../../src/context.ts';
import type { Database } from '../../src/store/database.ts';
import type { ProducerSchema } from '../../src/store/schema.ts';
import type { DialectUnderTest } from './test-databases.ts';

export const adminToken = 'lh_admin_test';
/** The secret key of test platforms and producers (a real key would come from the settings or the key file). */
export const testSecretKey = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';

export interface TestPlatform {
  app: LearnhookApp;
  context: ProducerContext;
  database: Database<ProducerSchema>;
  /** Sends a request; `body` as an object is sent as JSON, as a string verbatim. */
  call(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown, token?: string): Promise<LightMyRequestResponse>;
  /** Every row the platform writes, to prove a refused request wrote nothing. */
  snapshot(): Promise<unknown>;
  close(): Promise<void>;
}

export async function openTestPlatform(
  dialect: DialectUnderTest,
  settings: Partial<Settings> = {},
  options: { now?: () => number } = {},
): Promise<TestPlatform> {
  const database = await dialect.open<ProducerSchema>('producer');
  const context = createProducerContext(
    loadSettings({ adminToken, logLevel: 'silent', progressDelay: { minMs: 0, maxMs: 0 }, secretKey: testSecretKey, ...settings }, {}),
    database,
    options,
  );
  const app = await buildApp(context);
  return {
    app,
    context,
    database,
    call(method, url, body, token = adminToken) {
      const headers: Record<string, string> = { authorization: `Bearer ${token}` };
      if (body !== undefined) headers['content-type'] = 'application/json';
      return app.inject({
        method,
        url,
        headers,
        ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
    },
    async snapshot() {
      const db = database.db;
      return {
        accounts: await db.selectFrom('accounts').selectAll().orderBy('id').execute(),
        users: await db.selectFrom('users').selectAll().orderBy('id').execute(),
        learningObjects: await db.selectFrom('learning_objects').selectAll().orderBy('num').execute(),
        instances: await db.selectFrom('lo_instances').selectAll().orderBy('num').execute(),
        enrollments: await db.selectFrom('enrollments').selectAll().orderBy('user_id').orderBy('lo_instance_id').execute(),
        events: await db.selectFrom('events').selectAll().orderBy('account_id').orderBy('seq').execute(),
        scheduled: await db.selectFrom('scheduled_events').selectAll().orderBy('id').execute(),
      };
    },
    async close() {
      await app.close();
      await database.close();
    },
  };
}
