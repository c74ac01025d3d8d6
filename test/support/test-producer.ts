// For tests: a producer on a fresh database of one dialect, with the delivery service running and the API built in-process.
import type { LearnhookApp } from '../../src/api/app.ts';
import { buildApp } from '../../src/api/app.ts';
import { loadSettings, type Settings } from '../../src/config.ts';
import { createLogger, createProducerContext, type ProducerContext } from '../../src/context.ts';
import { startDelivery } from '../../src/delivery/delivery-service.ts';
import { createAccount } from '../../src/platform/accounts.ts';
import { appendEvents, newEvent } from '../../src/platform/event-log.ts';
import type { ProducerSchema } from '../../src/store/schema.ts';
import type { DialectUnderTest } from './test-databases.ts';
import { testSecretKey } from './test-platform.ts';

export interface TestProducer {
  context: ProducerContext;
  app: LearnhookApp;
  adminToken: string;
  createAccount(name: string, contactEmail?: string): Promise<number>;
  /** Appends `count` LEARNING_OBJECT_DRAFT events (or the given names, round robin) and signals the dispatcher. */
  append(accountId: number, count: number, eventNames?: readonly string[]): Promise<string[]>;
  /** Registers a webhook through the API and returns its id and secret. */
  createWebhook(accountId: number, body: Record<string, unknown>): Promise<{ id: string; secret?: string }>;
  stop(): Promise<void>;
}

const dataOf: Record<string, (index: number) => Record<string, unknown>> = {
  LEARNING_OBJECT_DRAFT: (index) => ({ loId: `course:${index + 1}`, loType: 'course' }),
  LEARNING_OBJECT_MODIFICATION: (index) => ({ loId: `course:${index + 1}`, loType: 'course' }),
  CI_STATS: (index) => ({ loInstanceId: `course:1_${index + 1}`, waitlistCount: 0, enrollmentCount: index, seatLimit: 100 }),
};

export async function startTestProducer(dialect: DialectUnderTest, overrides: Partial<Settings> = {}): Promise<TestProducer> {
  const database = await dialect.open<ProducerSchema>('producer');
  const settings = loadSettings(
    {
      allowPrivateTargets: true,
      adminToken: 'test-admin',
      pollIntervalMs: 200,
      logLevel: 'silent',
      secretKey: testSecretKey,
      ...overrides,
    },
    {},
  );
  const context = createProducerContext(settings, database, { logger: createLogger(settings.logLevel) });
  const delivery = startDelivery(context);
  const app = await buildApp(context);
  let counter = 0;
  return {
    context,
    app,
    adminToken: settings.adminToken,
    async createAccount(name, contactEmail) {
      return (await createAccount(context, { name, contactEmail: contactEmail ?? null })).id;
    },
    async append(accountId, count, eventNames = ['LEARNING_OBJECT_DRAFT']) {
      const events = Array.from({ length: count }, () => {
        const index = counter++;
        const name = eventNames[index % eventNames.length] ?? 'LEARNING_OBJECT_DRAFT';
        return newEvent(name, (dataOf[name] ?? dataOf.LEARNING_OBJECT_DRAFT!)(index), Date.now(), `test-${index}`);
      });
      await database.db.transaction().execute((trx) => appendEvents(trx, accountId, events, context.now()));
      context.signals.emit('events-appended', [accountId]);
      return events.map((event) => event.eventId);
    },
    async createWebhook(accountId, body) {
      const response = await app.inject({
        method: 'POST',
        url: `/v1/accounts/${accountId}/webhooks`,
        headers: { authorization: `Bearer ${settings.adminToken}` },
        payload: body,
      });
      if (response.statusCode !== 201) throw new Error(`creating the webhook answered ${response.statusCode}: ${response.body}`);
      return response.json() as { id: string; secret?: string };
    },
    async stop() {
      await app.close();
      await delivery.stop();
      await database.close();
    },
  };
}
