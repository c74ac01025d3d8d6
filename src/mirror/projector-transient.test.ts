// Transient database errors (a deadlock, SQLITE_BUSY, a lost connection) are not projection attempts: a healthy inbox
// row is never set aside for them, and is applied once the database answers again. A broken row among several
// applied in one transaction is counted alone.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { testDialects } from '../../test/support/test-databases.ts';
import { sampleEvent } from '../catalog/index.ts';
import { loadSettings } from '../config.ts';
import { createLogger } from '../context.ts';
import { createMirrorContext } from './mirror-context.ts';
import { projectNext } from './projector.ts';
import type { MirrorSchema } from './schema.ts';
import { storeBatch } from './store-batch.ts';

const dialects = await testDialects();

/** Fails every insert into processed_events with the given error while `remaining` is above zero. */
class FailingInserts implements KyselyPlugin {
  remaining = 0;
  constructor(private readonly error: () => Error) {}
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    const node = args.node;
    if (this.remaining > 0 && node.kind === 'InsertQueryNode' && node.into?.table.identifier.name === 'processed_events') {
      this.remaining--;
      throw this.error();
    }
    return node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

const transientErrors: Record<string, () => Error> = {
  sqlite: () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }),
  postgres: () => Object.assign(new Error('deadlock detected'), { code: '40P01' }),
};

for (const dialect of dialects) {
  describe(`transient errors in the projector on ${dialect.name}`, { skip: dialect.skip }, () => {
    test('a row that meets only transient errors is tried again without counting, and applied once they pass', async () => {
      const database = await dialect.open<MirrorSchema>('mirror');
      try {
        const settings = loadSettings({ logLevel: 'silent', projectionAttempts: 2 }, {});
        const failing = new FailingInserts(transientErrors[dialect.name] as () => Error);
        const context = createMirrorContext(
          settings,
          { ...database, db: database.db.withPlugin(failing) },
          { logger: createLogger('silent', 'test') },
        );
        const event = sampleEvent('COURSE_ENROLLMENT');
        const body = JSON.stringify({ accountId: 5, events: [{ ...event, eventId: 't-1' }] });
        const stored = await storeBatch(
          database,
          { batchId: 'msg_t', accountId: 5, eventCount: 1, body, replay: false, test: false },
          Date.now(),
        );
        assert.ok(stored.stored);

        // Far more failures than --projection-attempts allows for a broken row.
        failing.remaining = 6;
        for (let attempt = 0; attempt < 6; attempt++) {
          await assert.rejects(projectNext(context, false), (error: { code?: string }) => {
            assert.equal(error.code, dialect.name === 'postgres' ? '40P01' : 'SQLITE_BUSY');
            return true;
          });
        }
        const row = await database.db.selectFrom('inbox').selectAll().where('id', '=', stored.inboxId).executeTakeFirstOrThrow();
        assert.deepEqual(
          { attempts: row.attempts, failed_at: row.failed_at, processed_at: row.processed_at },
          { attempts: 0, failed_at: null, processed_at: null },
        );
        const unprocessable = await database.db.selectFrom('anomalies').select('id').where('kind', '=', 'unprocessable').execute();
        assert.equal(unprocessable.length, 0);

        const outcome = await projectNext(context, false);
        assert.ok(outcome && 'applied' in outcome);
        assert.equal(outcome.applied, 1);

        // A real failure of the row is still counted (and sets it aside after the allowed attempts).
        const broken = await storeBatch(
          database,
          { batchId: 'msg_u', accountId: 5, eventCount: 1, body: '[]', replay: false, test: false },
          Date.now(),
        );
        assert.ok(broken.stored);
        await assert.rejects(projectNext(context, false), /not a delivery envelope/);
        const setAside = await projectNext(context, false);
        assert.ok(setAside && 'setAside' in setAside);
        assert.equal(setAside.setAside.attempts, 2);
      } finally {
        await database.close();
      }
    });

    test('the rows applied before a broken one in the same transaction stay applied; only the broken row is counted', async () => {
      const database = await dialect.open<MirrorSchema>('mirror');
      try {
        const settings = loadSettings({ logLevel: 'silent', projectionAttempts: 2 }, {});
        const context = createMirrorContext(settings, database, { logger: createLogger('silent', 'test') });
        const event = sampleEvent('COURSE_ENROLLMENT');
        const store = async (batchId: string, body: string) => {
          const stored = await storeBatch(database, { batchId, accountId: 5, eventCount: 1, body, replay: false, test: false }, Date.now());
          assert.ok(stored.stored);
          return stored.inboxId;
        };
        await store('msg_1', JSON.stringify({ accountId: 5, events: [{ ...event, eventId: 'e-1' }] }));
        const broken = await store('msg_2', '[]');
        await store('msg_3', JSON.stringify({ accountId: 5, events: [{ ...event, eventId: 'e-3' }] }));
        const first = await projectNext(context, false);
        assert.ok(first && 'rows' in first);
        assert.deepEqual({ rows: first.rows, applied: first.applied }, { rows: 1, applied: 1 });
        await assert.rejects(projectNext(context, false), /not a delivery envelope/);
        const setAside = await projectNext(context, false);
        assert.ok(setAside && 'setAside' in setAside);
        assert.deepEqual({ inboxId: setAside.setAside.inboxId, attempts: setAside.setAside.attempts }, { inboxId: broken, attempts: 2 });
        const last = await projectNext(context, false);
        assert.ok(last && 'rows' in last);
        assert.deepEqual({ rows: last.rows, applied: last.applied }, { rows: 1, applied: 1 });
        assert.equal(await projectNext(context, false), undefined);
      } finally {
        await database.close();
      }
    });
  });
}
