// The enricher's read-API budget holds for every mirror on one database: slots taken at once through several
// connections (as several mirror processes on one PostgreSQL would) are never more than the limit in a window. SQLite
// has one mirror process per file (a second handle in one process would block on its own lock): its slots are taken at
// once through one handle.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { testDialects } from '../../test/support/test-databases.ts';
import { openDatabase } from '../store/database.ts';
import type { MirrorSchema } from './schema.ts';
import { blockRateUntil, takeRateSlot } from './take-rate-slot.ts';

const dialects = await testDialects();

for (const dialect of dialects) {
  describe(`the enricher's rate budget on ${dialect.name}`, { skip: dialect.skip }, () => {
    test('three mirrors taking slots at once get the limit between them, and the rest are told how long to wait', async () => {
      const first = await dialect.open<MirrorSchema>('mirror');
      const others =
        dialect.name === 'postgres' ? [await openDatabase<MirrorSchema>(first.url), await openDatabase<MirrorSchema>(first.url)] : [];
      try {
        const mirrors = [first, ...others];
        const now = 1_000_000;
        const slots = await Promise.all(
          Array.from({ length: 24 }, (_, index) => takeRateSlot(mirrors[index % mirrors.length] as typeof first, 10, 60_000, now)),
        );
        assert.equal(slots.filter((slot) => slot.granted).length, 10);
        for (const slot of slots) if (!slot.granted) assert.ok(slot.waitMs > 0);
        // A 429 seen by one mirror stops them all until the time it named.
        await blockRateUntil(mirrors[1 % mirrors.length] as typeof first, now + 120_000);
        const later = now + 70_000;
        assert.deepEqual(await takeRateSlot(mirrors[2 % mirrors.length] as typeof first, 10, 60_000, later), {
          granted: false,
          waitMs: 50_000,
        });
        assert.deepEqual(await takeRateSlot(first, 10, 60_000, now + 120_001), { granted: true });
      } finally {
        for (const other of others) await other.close();
        await first.close();
      }
    });
  });
}
