// End to end: serve + a simulated workload → signed deliveries through a flaky link (retries, re-sent batches) →
// mirror; at the end the mirror's enrollments, learning objects, instances and users equal the platform's, row for row.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { eventNames } from '../src/catalog/index.ts';
import { loadSettings } from '../src/config.ts';
import { type RunningMirror, startMirror } from '../src/mirror/start-mirror.ts';
import { type RunningProducer, startProducer } from '../src/server.ts';
import { PlatformClient } from '../src/simulate/platform-client.ts';
import { runWorkload } from '../src/simulate/run-workload.ts';
import { assertMirrorMatchesPlatform } from './support/mirror-matches-platform.ts';
import { testDialects } from './support/test-databases.ts';

const dialects = await testDialects();
const adminToken = 'lh_admin_e2e';

/** A link between producer and mirror that fails now and then: some requests never reach the mirror, some reach it but the answer is lost. */
async function startFlakyLink(target: () => string) {
  let count = 0;
  const stats = { forwarded: 0, refused: 0, answerLost: 0 };
  const server = http.createServer(async (incoming, outgoing) => {
    count++;
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    if (count % 7 === 3) {
      stats.refused++;
      outgoing.writeHead(503).end('link down');
      return;
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(incoming.headers)) {
      if (typeof value === 'string' && !['host', 'connection', 'content-length'].includes(name)) headers[name] = value;
    }
    const response = await request(`${target()}${incoming.url}`, { method: 'POST', headers, body: Buffer.concat(chunks) });
    const body = await response.body.text();
    stats.forwarded++;
    if (count % 11 === 5 && response.statusCode < 300) {
      stats.answerLost++;
      outgoing.writeHead(502).end('answer lost');
      return;
    }
    outgoing.writeHead(response.statusCode, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

for (const dialect of dialects) {
  describe(`serve → deliveries → mirror on ${dialect.name}`, { skip: dialect.skip }, () => {
    let producer: RunningProducer;
    let mirror: RunningMirror;
    let link: Awaited<ReturnType<typeof startFlakyLink>>;
    let client: PlatformClient;
    const webhookIds = new Map<number, string>();

    before(async () => {
      producer = await startProducer(
        loadSettings(
          {
            db: await dialect.freshUrl(),
            port: 0,
            adminToken,
            logLevel: 'warn',
            allowPrivateTargets: true,
            retryInitialMs: 50,
            retryMaxMs: 300,
            batchMax: 10,
            pollIntervalMs: 100,
            progressDelay: { minMs: 0, maxMs: 1500 },
          },
          {},
        ),
        { dispatch: true },
      );
      client = new PlatformClient(producer.url ?? '', adminToken);
      link = await startFlakyLink(() => mirror.url);
    });

    after(async () => {
      await client?.close();
      await mirror?.stop();
      await producer?.stop();
      await link?.close();
    });

    test('the mirror ends equal to the platform, with retries and re-sent batches on the way', async () => {
      // Accounts and their signed webhooks first: the mirror must know every signing secret when it starts.
      const secrets: string[] = [];
      const accountIds: number[] = [];
      for (const name of ['North Academy', 'South Academy']) {
        const account = await client.expect<{ id: number }>('POST', '/v1/accounts', { name, contactEmail: 'ops@example.com' });
        const webhook = await client.expect<{ id: string; secret: string }>('POST', `/v1/accounts/${account.id}/webhooks`, {
          name: 'mirror',
          url: `${link.url}/webhook`,
          events: [...eventNames],
          auth: { type: 'signature' },
        });
        accountIds.push(account.id);
        secrets.push(`${account.id}=${webhook.secret}`);
        webhookIds.set(account.id, webhook.id);
      }
      mirror = await startMirror(
        loadSettings(
          {
            db: await dialect.freshUrl(),
            port: 0,
            logLevel: 'warn',
            mirrorSecret: secrets.join(','),
            api: producer.url,
            apiToken: adminToken,
          },
          {},
        ),
      );

      const report = await runWorkload(client, {
        accounts: 0,
        accountIds,
        learners: 6,
        rate: 30,
        // The action count bounds the workload (about 5 s at this rate); the long duration only keeps a loaded machine
        // from cutting it short.
        durationMs: 60_000,
        maxActions: 150,
        seed: 7,
      });
      assert.ok(report.actions >= 50, `the workload ran only ${report.actions} actions`);

      // Wait until every event is released, delivered, projected and enriched.
      const deadline = Date.now() + 90_000;
      for (;;) {
        const scheduled = await producer.context.database.db.selectFrom('scheduled_events').select('id').execute();
        const stats = await Promise.all(
          accountIds.map((id) =>
            client.expect<{ backlog: number; batchInFlight: unknown }>('GET', `/v1/accounts/${id}/webhooks/${webhookIds.get(id)}/stats`),
          ),
        );
        const status = (await (await request(`${mirror.url}/status`)).body.json()) as {
          inbox: { backlog: number };
          enrichment: { queued: number };
        };
        const quiet =
          scheduled.length === 0 &&
          stats.every((s) => s.backlog === 0 && s.batchInFlight === null) &&
          status.inbox.backlog === 0 &&
          status.enrichment.queued === 0;
        if (quiet) break;
        if (Date.now() > deadline) assert.fail(`not settled after 90 s: ${JSON.stringify({ scheduled: scheduled.length, stats, status })}`);
        await sleep(200);
      }
      assert.ok(
        link.stats.refused > 0 && link.stats.answerLost > 0,
        `the link should have failed some requests: ${JSON.stringify(link.stats)}`,
      );

      for (const accountId of accountIds) {
        await assertMirrorMatchesPlatform(client, mirror.context.database.db, accountId, { users: true });
      }
      const status = (await (await request(`${mirror.url}/status`)).body.json()) as {
        counts: { duplicates: number; duplicateBatches: number; gaps: number };
      };
      assert.ok(status.counts.duplicateBatches + status.counts.duplicates > 0, 'lost answers should have produced re-sent batches');
      assert.equal((status as unknown as { openGaps: unknown[] }).openGaps.length, 0, 'no delivery sequence gap may remain open');
    });
  });
}
