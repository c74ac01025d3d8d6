// Per-account order under load: 50 accounts × 5 webhooks delivered concurrently, with appends, delays and failures interleaved.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDialects } from './support/test-databases.ts';
import { startTestProducer, type TestProducer } from './support/test-producer.ts';
import { startReceiver } from './support/test-receiver.ts';

const dialects = await testDialects();
const accounts = 50;
const webhooksPerAccount = 5;
const rounds = 4;
const eventsPerRound = 5;
const names = ['LEARNING_OBJECT_DRAFT', 'LEARNING_OBJECT_MODIFICATION', 'CI_STATS'];

for (const dialect of dialects) {
  describe(`delivery order on ${dialect.name}`, { skip: dialect.skip }, () => {
    let producer: TestProducer;
    before(async () => {
      producer = await startTestProducer(dialect, {
        batchMax: 4,
        concurrency: 32,
        retryInitialMs: 50,
        retryMaxMs: 200,
        pollIntervalMs: 100,
      });
    });
    after(async () => {
      await producer?.stop();
    });

    test(`${accounts} accounts × ${webhooksPerAccount} webhooks: each webhook gets its account's chosen events once, in order`, async () => {
      // Every 7th request fails and some answers are slow, so retries and parallel webhooks interleave.
      const receiver = await startReceiver((_, index) => (index % 7 === 3 ? { status: 503 } : { status: 202, delayMs: index % 5 }));
      try {
        const accountIds = await Promise.all(Array.from({ length: accounts }, (_, index) => producer.createAccount(`order-${index}`)));
        const chosenBy = (hook: number) => (hook % 2 === 0 ? names : [names[hook % 3] ?? 'CI_STATS']);
        for (const accountId of accountIds) {
          for (let hook = 0; hook < webhooksPerAccount; hook++) {
            await producer.createWebhook(accountId, {
              name: `h${hook}`,
              url: `${receiver.url}?account=${accountId}&hook=${hook}`,
              events: chosenBy(hook),
            });
          }
        }
        const appended = new Map<number, { id: string; name: string }[]>(accountIds.map((id) => [id, []]));
        for (let round = 0; round < rounds; round++) {
          await Promise.all(
            accountIds.map(async (accountId) => {
              const round_names = Array.from(
                { length: eventsPerRound },
                (_, index) => names[(index + accountId + round) % names.length] ?? 'CI_STATS',
              );
              const ids = await producer.append(accountId, eventsPerRound, round_names);
              appended.get(accountId)?.push(...ids.map((id, index) => ({ id, name: round_names[index] ?? '' })));
            }),
          );
        }
        const expected = new Map<string, string[]>();
        for (const accountId of accountIds) {
          for (let hook = 0; hook < webhooksPerAccount; hook++) {
            const chosen = chosenBy(hook);
            expected.set(
              `/webhook?account=${accountId}&hook=${hook}`,
              (appended.get(accountId) ?? []).filter((event) => chosen.includes(event.name)).map((event) => event.id),
            );
          }
        }
        const total = [...expected.values()].reduce((sum, ids) => sum + ids.length, 0);
        await receiver.waitFor(() => receiver.acknowledgedEvents().length >= total);
        const got = new Map<string, string[]>();
        for (const delivery of receiver.deliveries) {
          if (!delivery.acknowledged) continue;
          const list = got.get(delivery.url) ?? [];
          list.push(...delivery.body.events.map((event) => event.eventId));
          got.set(delivery.url, list);
          assert.equal(delivery.url.includes(`account=${delivery.body.accountId}&`), true, 'each envelope goes to its own account');
        }
        assert.equal(got.size, expected.size);
        for (const [url, ids] of expected) assert.deepEqual(got.get(url), ids, url);
        assert.ok(
          receiver.deliveries.some((delivery) => !delivery.acknowledged),
          'some attempts failed and were retried',
        );
      } finally {
        await receiver.close();
      }
    });
  });
}
