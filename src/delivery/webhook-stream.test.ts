// The webhook stream's writer: a stream stopped by a failed write must let flush() return, not spin.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WebhookRow } from '../webhooks/webhooks.ts';
import type { StreamDeps } from './webhook-stream.ts';
import { WebhookStream } from './webhook-stream.ts';

const row = {
  cursor: 0,
  delivery_seq: 0,
  replay_cursor: null,
  replay_until: null,
  batch_id: null,
  batch_seqs: null,
  batch_first_seq: null,
  batch_last_seq: null,
  batch_plan: null,
} as unknown as WebhookRow;

// No write may reach the database once the stream is stopped: deps that throw prove none is attempted.
const deps = new Proxy({} as StreamDeps, {
  get() {
    throw new Error('a stopped stream must not write');
  },
});

test('flush() on a stream stopped by a failed write returns (it spun forever in microtasks after a PostgreSQL restart)', async () => {
  const stream = new WebhookStream(deps, 'wh_test', row);
  stream.stopped = new Error('the database connection was lost');
  stream.unrecorded.push({ eventCount: 3 });
  stream.write();
  await stream.flush();
  assert.ok(stream.stopped instanceof Error);
  assert.equal(stream.unrecorded.length, 1, 'nothing was recorded as written');
});
