// The BullMQ webhook sender, in its own process as BullMQ's docs run workers: one Worker, `concurrency` jobs at once,
// each job one POST of one event; a thrown error hands the job back to BullMQ's retries with exponential backoff.
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { postWebhook, type WebhookJob, webhookAgent } from './post-webhook.ts';

const { redisUrl, queue, prefix, concurrency } = JSON.parse(process.argv[2] ?? '{}') as {
  redisUrl: string;
  queue: string;
  prefix: string;
  concurrency: number;
};

// Workers block on Redis: BullMQ's docs require maxRetriesPerRequest null on a worker's connection.
const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
// As many keep-alive connections as jobs in flight, as learnhook's sender has per process.
const agent = webhookAgent(concurrency);
const worker = new Worker<WebhookJob>(queue, (job) => postWebhook(agent, job.data), { connection, prefix, concurrency });
worker.on('error', (error) => process.stderr.write(`bullmq worker: ${error.message}\n`));
await worker.waitUntilReady();
process.send?.({ type: 'ready' });

process.once('SIGTERM', async () => {
  // Jobs in flight to a dead endpoint end only at their timeout: close without waiting for them.
  await worker.close(true);
  await agent.destroy();
  connection.disconnect();
  process.exit(0);
});
