// Group commit on both stores: concurrent writes share a transaction, a failing write fails alone and changes nothing, the frame locks each group's keys in order.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Transaction } from 'kysely';
import { testDialects } from '../../test/support/test-databases.ts';
import { loadSettings } from '../config.ts';
import { createLogger, createProducerContext } from '../context.ts';
import { createAccount } from '../platform/accounts.ts';
import type { Database } from './database.ts';
import { GroupCommit, type GroupFrame } from './group-commit.ts';
import type { ProducerSchema } from './schema.ts';

const dialects = await testDialects();

for (const dialect of dialects) {
  describe(`group commit on ${dialect.name}`, { skip: dialect.skip }, () => {
    let database: Database<ProducerSchema>;
    const accountIds: number[] = [];
    before(async () => {
      database = await dialect.open<ProducerSchema>('producer');
      const context = createProducerContext(loadSettings({ logLevel: 'silent' }, {}), database, { logger: createLogger('silent') });
      for (let index = 0; index < 6; index++) accountIds.push((await createAccount(context, { name: `a${index}` })).id);
    });
    after(async () => {
      await database?.close();
    });

    const rename = (id: number, name: string) => async (trx: Transaction<ProducerSchema>) => {
      const result = await trx.updateTable('accounts').set({ name }).where('id', '=', id).executeTakeFirst();
      return { trx, updated: Number(result.numUpdatedRows) };
    };
    const names = async (ids: readonly number[]) =>
      (
        await database.db
          .selectFrom('accounts')
          .select('name')
          .where('id', 'in', [...ids])
          .orderBy('id')
          .execute()
      ).map((row) => row.name);

    test('writes issued together commit in one transaction, and each caller gets its own result once committed', async () => {
      const commits = new GroupCommit(database.db, { groupsInFlight: 1 });
      const results = await Promise.all(accountIds.map((id) => commits.run(rename(id, `grouped-${id}`))));
      assert.deepEqual(
        results.map((result) => result.updated),
        accountIds.map(() => 1),
      );
      assert.equal(new Set(results.map((result) => result.trx)).size, 1);
      assert.deepEqual(
        await names(accountIds),
        accountIds.map((id) => `grouped-${id}`),
      );
    });

    test('writes that arrive while a group commits form the next group', async () => {
      const commits = new GroupCommit(database.db, { groupsInFlight: 1 });
      const [firstId, secondId, thirdId] = accountIds as [number, number, number];
      const first = commits.run(rename(firstId, 'first'));
      // Queued after the first group has started: they wait for it, then commit together.
      await new Promise((resolve) => setImmediate(resolve));
      const later = [commits.run(rename(secondId, 'second')), commits.run(rename(thirdId, 'third'))];
      const [one, two, three] = [await first, ...(await Promise.all(later))];
      assert.notEqual(one?.trx, two?.trx);
      assert.equal(two?.trx, three?.trx);
    });

    test('with a linger, an early write after a large group waits for company; after a small group it does not', {
      timeout: 30_000,
    }, async () => {
      const commits = new GroupCommit(database.db, { groupsInFlight: 1, lingerMs: 60_000 });
      const [a, b, c, d, e, f] = accountIds as [number, number, number, number, number, number];
      const pause = () => new Promise((resolve) => setImmediate(resolve));
      // A group of 4; one write arrives while it commits, then two more once it has committed.
      const large = [a, b, c, d].map((id) => commits.run(rename(id, `large-${id}`)));
      await pause();
      const early = commits.run(rename(e, 'early'));
      const largeTrx = (await Promise.all(large)).map((result) => result.trx);
      await pause();
      const followers = [commits.run(rename(f, 'follower')), commits.run(rename(a, 'follower'))];
      const [earlyResult, ...followerResults] = await Promise.all([early, ...followers]);
      assert.equal(new Set(largeTrx).size, 1);
      assert.notEqual(earlyResult?.trx, largeTrx[0]);
      // Half the large group's size (2) queued ended the wait at once, not the 60 s linger.
      // (By identity: two transactions' objects are alike field by field.)
      for (const follower of followerResults) assert.equal(follower?.trx, earlyResult?.trx, 'the early write waited for the two after it');
      // A group of 3 is small: the write that arrives while it commits starts its own group at once. (Waiting for the
      // linger's 60 s, or for company that never comes, would fail this test by its timeout.)
      const small = [b, c, e].map((id) => commits.run(rename(id, `small-${id}`)));
      await pause();
      const next = commits.run(rename(d, 'next'));
      const smallTrx = (await Promise.all(small))[0]?.trx;
      assert.notEqual((await next).trx, smallTrx, 'committed without waiting 60 s for company');
    });

    test('one-statement writes: a write alone commits by itself, outside a transaction; writes together still share one', async () => {
      const commits = new GroupCommit(database.db, { groupsInFlight: 1 });
      const oneStatement = { oneStatement: true };
      const [firstId, secondId, thirdId] = accountIds as [number, number, number];
      const alone = await commits.run(rename(firstId, 'alone'), [], oneStatement);
      assert.equal(alone.trx.isTransaction, false);
      assert.equal(alone.updated, 1);
      const staging = await commits.run(rename(firstId, 'alone, may stage'));
      assert.equal(staging.trx.isTransaction, true, 'a write that may stage runs in a transaction even alone');
      const [two, three] = await Promise.all([
        commits.run(rename(secondId, 'together 2'), [], oneStatement),
        commits.run(rename(thirdId, 'together 3'), [], oneStatement),
      ]);
      assert.equal(two.trx, three.trx);
      assert.equal(two.trx.isTransaction, true);
      assert.deepEqual(await names([firstId, secondId, thirdId]), ['alone, may stage', 'together 2', 'together 3']);
      await assert.rejects(
        commits.run(async () => {
          throw new Error('refused');
        }),
        /refused/,
      );
    });

    test('a failing write rejects only its own caller and changes nothing; the others of its group commit in that same transaction', async () => {
      const commits = new GroupCommit(database.db, { groupsInFlight: 2 });
      const [firstId, secondId, thirdId] = accountIds as [number, number, number];
      const [untouched] = await names([thirdId]);
      const outcomes = await Promise.allSettled([
        commits.run(rename(firstId, 'kept-1')),
        commits.run(async (trx) => {
          await trx.updateTable('accounts').set({ name: 'rolled back' }).where('id', 'in', [secondId, thirdId]).execute();
          throw new Error('this write fails');
        }),
        commits.run(rename(secondId, 'kept-2')),
      ]);
      assert.deepEqual(
        outcomes.map((outcome) => outcome.status),
        ['fulfilled', 'rejected', 'fulfilled'],
      );
      const [kept1, , kept2] = outcomes.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value.trx : undefined));
      assert.equal(kept1, kept2, 'the others are run again in the same transaction, not each alone');
      assert.deepEqual(await names([firstId, secondId, thirdId]), ['kept-1', 'kept-2', untouched]);
    });

    test('a constraint violation fails alone, also on PostgreSQL where it aborts the transaction', async () => {
      const commits = new GroupCommit(database.db, { groupsInFlight: 1 });
      const [, secondId, thirdId] = accountIds as [number, number, number];
      const outcomes = await Promise.allSettled([
        commits.run(rename(secondId, 'before the violation')),
        commits.run(async (trx) => {
          await trx.updateTable('accounts').set({ name: 'rolled back' }).where('id', '=', thirdId).execute();
          // A user's e-mail is unique in its account.
          const user = { account_id: thirdId, name: 'Ann', email: 'ann@example.com', user_unique_id: 'ann', created_at: 0, updated_at: 0 };
          await trx.insertInto('users').values([user, user]).execute();
        }),
        commits.run(rename(thirdId, 'after the violation')),
      ]);
      assert.deepEqual(
        outcomes.map((outcome) => outcome.status),
        ['fulfilled', 'rejected', 'fulfilled'],
      );
      assert.deepEqual(await names([secondId, thirdId]), ['before the violation', 'after the violation']);
    });

    test('the frame opens each group with its keys sorted and unique, opens again after a failed write, and closes once with what the others staged', async () => {
      const calls: string[] = [];
      const frame: GroupFrame<ProducerSchema, { staged: string[] }> = {
        async open(_trx, keys) {
          calls.push(`open ${keys.join(',')}`);
          return { staged: [] };
        },
        async close(trx, state) {
          calls.push(`close ${state.staged.join(',')}`);
          await trx
            .updateTable('accounts')
            .set({ name: state.staged.join('+') })
            .where('id', '=', accountIds[5] as number)
            .execute();
        },
        committed(state) {
          calls.push(`committed ${state.staged.join(',')}`);
        },
      };
      const commits = new GroupCommit(database.db, { groupsInFlight: 1, frame });
      const stage = (name: string) => async (_trx: Transaction<ProducerSchema>, state: { staged: string[] }) => {
        state.staged.push(name);
        if (name === 'refused') throw new Error('refused');
        return name;
      };
      const outcomes = await Promise.allSettled([
        commits.run(stage('b'), [7, 3]),
        commits.run(stage('refused'), [9]),
        commits.run(stage('c'), [3, 1]),
      ]);
      assert.deepEqual(
        outcomes.map((outcome) => outcome.status),
        ['fulfilled', 'rejected', 'fulfilled'],
      );
      assert.deepEqual(calls, ['open 1,3,7,9', 'open 1,3,7', 'close b,c', 'committed b,c']);
      assert.deepEqual(await names([accountIds[5] as number]), ['b+c']);
    });

    test('writes that only stage take no savepoint: a refused one fails alone; the first write with statements takes it, and only its own statements roll back', async () => {
      const savepoints: string[] = [];
      const recorded = database.db.withPlugin({
        transformQuery({ node }) {
          if (node.kind === 'RawNode') {
            const text = node.sqlFragments.join('?');
            if (text.includes('savepoint')) savepoints.push(text);
          }
          return node;
        },
        async transformResult({ result }) {
          return result;
        },
      });
      const [keptId, stagedId] = [accountIds[4], accountIds[5]] as [number, number];
      const frame: GroupFrame<ProducerSchema, { staged: string[] }> = {
        open: async () => ({ staged: [] }),
        async close(trx, state) {
          await trx
            .updateTable('accounts')
            .set({ name: state.staged.join('+') })
            .where('id', '=', stagedId)
            .execute();
        },
      };
      const commits = new GroupCommit(recorded, { groupsInFlight: 1, frame });
      const stage = (name: string) => async (_trx: Transaction<ProducerSchema>, state: { staged: string[] }) => {
        state.staged.push(name);
        if (name === 'refused') throw new Error('refused');
        return name;
      };
      const stagesOnly = { stagesOnly: true };
      const staged = await Promise.allSettled([
        commits.run(stage('a'), [], stagesOnly),
        commits.run(stage('refused'), [], stagesOnly),
        commits.run(stage('b'), [], stagesOnly),
      ]);
      assert.deepEqual(
        staged.map((outcome) => outcome.status),
        ['fulfilled', 'rejected', 'fulfilled'],
      );
      assert.deepEqual(await names([stagedId]), ['a+b']);
      assert.deepEqual(savepoints, [], 'a group of writes that only stage takes no savepoint');

      const mixed = await Promise.allSettled([
        commits.run(stage('c'), [], stagesOnly),
        commits.run(rename(keptId, 'kept')),
        commits.run(async (trx) => {
          await trx.updateTable('accounts').set({ name: 'rolled back' }).where('id', '=', keptId).execute();
          throw new Error('refused after writing');
        }),
      ]);
      assert.deepEqual(
        mixed.map((outcome) => outcome.status),
        ['fulfilled', 'fulfilled', 'rejected'],
      );
      assert.deepEqual(await names([keptId, stagedId]), ['kept', 'c']);
      assert.deepEqual(savepoints, ['savepoint group_writes', 'rollback to savepoint group_writes']);
    });

    test('when closing a group fails, each write is tried in a group of its own, so only the one that breaks it fails', async () => {
      const frame: GroupFrame<ProducerSchema, { names: string[] }> = {
        open: async () => ({ names: [] }),
        async close(_trx, state) {
          if (state.names.includes('breaks the close')) throw new Error('close failed');
        },
      };
      const commits = new GroupCommit(database.db, { groupsInFlight: 1, frame });
      const [firstId, secondId] = accountIds as [number, number];
      const write = (id: number, name: string) => async (trx: Transaction<ProducerSchema>, state: { names: string[] }) => {
        state.names.push(name);
        await trx.updateTable('accounts').set({ name }).where('id', '=', id).execute();
      };
      const outcomes = await Promise.allSettled([
        commits.run(write(firstId, 'closes fine')),
        commits.run(write(secondId, 'breaks the close')),
      ]);
      assert.deepEqual(
        outcomes.map((outcome) => outcome.status),
        ['fulfilled', 'rejected'],
      );
      assert.deepEqual(await names([firstId]), ['closes fine']);
      assert.notEqual((await names([secondId]))[0], 'breaks the close');
    });
  });
}
