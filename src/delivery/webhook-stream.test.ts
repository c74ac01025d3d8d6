// The webhook stream's writer: a stream stopped by a failed write lets flush() return, not spin; a flush adds no write the one in flight already carries.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProducerContext } from '../context.ts';
import type { WebhookRow } from '../webhooks/webhooks.ts';
import { AttemptLog } from './attempt-log.ts';
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

test('flush() while a write that carries everything is in flight waits for it and asks for no second, identical write', async () => {
  let writes = 0;
  const counting = {
    context: { now: () => 0, settings: { leaseMs: 60_000 } },
    owner: 'owner',
    attempts: new AttemptLog({} as ProducerContext),
    commits: {
      run: async () => {
        writes++;
        await new Promise((resolve) => setTimeout(resolve, 5));
        return true;
      },
    },
  } as unknown as StreamDeps;
  const stream = new WebhookStream(counting, 'wh_test', row);
  stream.unrecorded.push({ eventCount: 3 });
  stream.write();
  await stream.flush();
  assert.equal(writes, 1);
  assert.equal(stream.unrecorded.length, 0, 'the acknowledgement is recorded');
  stream.unrecorded.push({ eventCount: 2 });
  await stream.flush();
  assert.equal(writes, 2, 'what the last write did not carry is written');
});
