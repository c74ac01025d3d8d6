// The pg-boss webhook sender, in its own process: `workers` polling loops (pg-boss 10 runs one loop per work() call;
// teamSize is gone), each fetching up to `batchSize` jobs and posting them all at once; a failed POST fails only its job.
import PgBoss from 'pg-boss';
import { postWebhook, type WebhookJob, webhookAgent } from './post-webhook.ts';

const { databaseUrl, queue, workers, batchSize } = JSON.parse(process.argv[2] ?? '{}') as {
  databaseUrl: string;
  queue: string;
  workers: number;
  batchSize: number;
};

const boss = new PgBoss({ connectionString: databaseUrl, max: workers + 4 });
boss.on('error', (error) => process.stderr.write(`pg-boss: ${error.message}\n`));
await boss.start();
const agent = webhookAgent(100);
for (let index = 0; index < workers; index++) {
  // The shortest polling interval pg-boss allows (0.5 s); a loop whose batch took longer fetches again at once.
  await boss.work<WebhookJob>(queue, { batchSize, pollingIntervalSeconds: 0.5 }, async (jobs) => {
    const failed: string[] = [];
    await Promise.all(
      jobs.map(async (job) => {
        try {
          await postWebhook(agent, job.data);
        } catch {
          failed.push(job.id);
        }
      }),
    );
    // pg-boss completes or fails a whole batch by the handler's outcome: failing the failed jobs first leaves only
    // the delivered ones for the completion that follows (it touches active jobs only), so each job retries alone.
    if (failed.length > 0) await boss.fail(queue, failed);
  });
}
process.send?.({ type: 'ready' });

process.once('SIGTERM', async () => {
  await boss.stop({ graceful: false, wait: true, timeout: 2000 }).catch(() => {});
  await agent.destroy();
  process.exit(0);
});
