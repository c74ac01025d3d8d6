// Batch ids: a delivery batch's id derives from its content, so planning the same batch again gives the same `webhook-id`.
import { createHash, randomBytes } from 'node:crypto';

export interface BatchContent {
  /** The first delivery sequence number of the batch (the rest follow from the event count). */
  deliveryFirst: number;
  replay: boolean;
  eventIds: readonly string[];
}

/**
 * The id of a webhook's batch: a hash of everything a receiver sees of it besides the timestamp (the webhook, the
 * delivery sequence range, the replay flag and the events), so the same batch always carries the same id and two
 * different batches never do (132 bits of SHA-256).
 */
export function batchId(webhookId: string, batch: BatchContent): string {
  const content = [webhookId, String(batch.deliveryFirst), batch.replay ? 'replay' : 'log', ...batch.eventIds].join('\n');
  return `msg_${createHash('sha256').update(content).digest('base64url').slice(0, 22)}`;
}

/** Random bytes drawn 4 KiB at a time: one system call per 256 ids rather than one per id. */
let entropy = Buffer.alloc(0);
let entropyUsed = 0;

/** A fresh random id, for a test delivery (outside the delivery sequence, each one unique). */
export function newBatchId(): string {
  if (entropyUsed + 16 > entropy.length) {
    entropy = randomBytes(4096);
    entropyUsed = 0;
  }
  entropyUsed += 16;
  return `msg_${entropy.toString('base64url', entropyUsed - 16, entropyUsed)}`;
}
