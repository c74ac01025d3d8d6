// How the BullMQ and pg-boss senders post one event: a Standard Webhooks signature (as learnhook signs) and the
// same timeouts as learnhook's defaults, through one keep-alive undici agent per sender process.
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'undici';
import type { CatalogEvent } from '../../src/catalog/schemas.ts';
import { signature } from '../../src/mirror/verify.ts';

/** The job of the peers: one event for one endpoint (their documentation's "one job per webhook call"). */
export interface WebhookJob {
  url: string;
  secret: string;
  accountId: number;
  event: CatalogEvent;
}

/** A secret shared by the bench's endpoints (the receiver does not verify; signing is part of the sender's cost). */
export const benchSecret = `whsec_${Buffer.from('learnhook-bench-compare-secret-32').toString('base64')}`;

export function webhookAgent(connections: number): Agent {
  return new Agent({ connections, pipelining: 1, headersTimeout: 5000, bodyTimeout: 5000, connect: { timeout: 10_000 } });
}

/** Posts the job's envelope; throws unless the endpoint answers 2xx, so the queue retries it. */
export async function postWebhook(agent: Agent, job: WebhookJob): Promise<void> {
  const body = JSON.stringify({ accountId: job.accountId, events: [job.event] });
  const id = `msg_${randomBytes(12).toString('hex')}`;
  const timestamp = String(Math.floor(Date.now() / 1000));
  const response = await request(job.url, {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': timestamp,
      'webhook-signature': signature(job.secret, id, timestamp, body),
    },
    dispatcher: agent,
  });
  await response.body.dump();
  if (response.statusCode < 200 || response.statusCode >= 300) throw new Error(`the endpoint answered ${response.statusCode}`);
}
