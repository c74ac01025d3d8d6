// A delivery body made from the log's stored JSON text is byte for byte the body JSON.stringify makes from the parsed events, on both stores.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testDialects } from '../../test/support/test-databases.ts';
import { loadSettings } from '../config.ts';
import { createLogger, createProducerContext } from '../context.ts';
import { createAccount } from '../platform/accounts.ts';
import { appendEvents, type NewEvent, toLogEvent } from '../platform/event-log.ts';
import { seededRandom } from '../platform/rules/progress.ts';
import type { ProducerSchema } from '../store/schema.ts';
import { batchEventOf, envelopeBody, openingOnce } from './build-delivery.ts';

/** Values JSON.stringify writes in more than one way, or that a careless splice would get wrong. */
const awkward: Record<string, unknown>[] = [
  { text: 'quotes " and \\ backslash, newline\n, tab\t, control \u0001, NUL \u0000, separators \u2028\u2029' },
  { text: 'é, 漢字, emoji 😀, a lone surrogate \ud800 and \udfff' },
  { numbers: [0, -0, 0.1, 1e21, 1e-7, 123456789012345, 1.7976931348623157e308, 5e-324, -42.5] },
  { b: 1, 2: 'integer-like keys come first', 1: 'in numeric order', a: { z: [], y: {} } },
  { nested: [[[{ deep: [null, true, false, ''] }]]], empty: {}, list: [] },
  { __proto__key: 'x', constructor: 'y', toString: 'z' },
  {},
];

/** Random JSON values from a seeded generator: strings drawn from every Unicode plane, numbers of every size. */
function randomValue(random: () => number, depth: number): unknown {
  const pick = Math.floor(random() * (depth > 3 ? 4 : 6));
  if (pick === 0) return random() < 0.5 ? null : random() < 0.5;
  if (pick === 1) return (random() - 0.5) * 10 ** Math.floor(random() * 40 - 20);
  if (pick === 2 || pick === 3) {
    const length = Math.floor(random() * 12);
    return String.fromCodePoint(...Array.from({ length }, () => Math.floor(random() * (random() < 0.7 ? 0x80 : 0x10ffff))));
  }
  if (pick === 4) return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(random, depth + 1));
  const object: Record<string, unknown> = {};
  for (let index = Math.floor(random() * 4); index > 0; index--)
    object[String(randomValue(random, 9) ?? 'k')] = randomValue(random, depth + 1);
  return object;
}

for (const dialect of await testDialects()) {
  test(`on ${dialect.name}, the body spliced from the stored events equals JSON.stringify of the parsed envelope`, {
    skip: dialect.skip,
  }, async (t) => {
    const database = await dialect.open<ProducerSchema>('producer');
    t.after(() => database.close());
    const settings = loadSettings({ logLevel: 'silent' }, {});
    const context = createProducerContext(settings, database, { logger: createLogger('silent') });
    const account = await createAccount(context, { name: 'bodies' });
    const random = seededRandom(7);
    const data = [...awkward, ...Array.from({ length: 300 }, () => ({ value: randomValue(random, 0), more: randomValue(random, 0) }))];
    const events: NewEvent[] = data.map((value, index) => ({
      eventId: `evt-${index}-"quoted"-é`,
      eventName: 'LEARNING_OBJECT_DRAFT',
      // From 1970 to 2200, with milliseconds.
      timestamp: Math.floor(random() * 7_258_118_400_000),
      eventInfo: index % 2 ? `trace ${index} "with" \\ and 😀` : '',
      data: value,
    }));
    await database.db.transaction().execute((trx) => appendEvents(trx, account.id, events, Date.now()));
    const rows = await database.db.selectFrom('events').selectAll().where('account_id', '=', account.id).orderBy('seq').execute();
    assert.equal(rows.length, events.length);
    const parsed = rows.map((row) => {
      const { eventId, eventName, timestamp, eventInfo, data } = toLogEvent(row);
      return { eventId, eventName, timestamp, eventInfo, data };
    });
    const spliced = rows.map(batchEventOf);
    for (const [index, event] of spliced.entries()) {
      assert.equal(event.json, JSON.stringify(parsed[index]), `event ${index}`);
      assert.equal(event.bytes, Buffer.byteLength(event.json));
      assert.equal(event.seq, rows[index]?.seq);
    }
    assert.equal(envelopeBody(account.id, spliced).toString(), JSON.stringify({ accountId: account.id, events: parsed }));
    assert.equal(envelopeBody(account.id, []).toString(), JSON.stringify({ accountId: account.id, events: [] }));
  });
}

test('a delivery loop opens each sealed secret once, however many batches it signs', () => {
  const opened: string[] = [];
  const box = openingOnce({
    open: (sealed: string, owner: string) => {
      opened.push(sealed);
      return `${sealed} opened for ${owner}`;
    },
  });
  for (let batch = 0; batch < 3; batch++) assert.equal(box.open('v1:a', 'webhook:wh_1'), 'v1:a opened for webhook:wh_1');
  assert.equal(box.open('v1:b', 'webhook:wh_1'), 'v1:b opened for webhook:wh_1', 'a rotated secret is opened anew');
  assert.deepEqual(opened, ['v1:a', 'v1:b']);
});
