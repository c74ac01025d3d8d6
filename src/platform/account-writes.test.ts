// The platform's group commit on both stores: requests that arrive together commit together, a refused one fails alone and changes nothing, logs stay gap-free.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { dropTestDatabase, testDialects } from '../../test/support/test-databases.ts';
import { adminToken, openTestPlatform, type TestPlatform } from '../../test/support/test-platform.ts';
import { sampleEvent } from '../catalog/index.ts';
import { loadSettings } from '../config.ts';
import { createLogger, createProducerContext, type ProducerContext } from '../context.ts';
import { type Database, openDatabase } from '../store/database.ts';
import { migrate } from '../store/migrate.ts';
import type { ProducerSchema } from '../store/schema.ts';
import { createAccount } from './accounts.ts';
import { publishEvents } from './publish-events.ts';

const dialects = await testDialects();

function rawEvent(id: string) {
  return { ...sampleEvent('COURSE_ENROLLMENT'), eventId: id };
}

for (const dialect of dialects) {
  describe(`account writes on ${dialect.name}`, { skip: dialect.skip }, () => {
    let platform: TestPlatform;
    before(async () => {
      platform = await openTestPlatform(dialect);
    });
    after(async () => {
      await platform?.close();
    });

    async function newAccount(name: string) {
      const account = (await platform.call('POST', '/v1/accounts', { name })).json();
      return { id: account.id as number, token: account.token as string, base: `/v1/accounts/${account.id}` };
    }
    const seqsOf = async (accountId: number) =>
      (await platform.database.db.selectFrom('events').select('seq').where('account_id', '=', accountId).orderBy('seq').execute()).map(
        (row) => row.seq,
      );

    test('a group with refused requests commits the others in one transaction; the refused ones change nothing', async () => {
      const acme = await newAccount('Acme');
      const other = await newAccount('Other');
      const inactive = await newAccount('Inactive');
      await platform.call('PATCH', inactive.base, { status: 'INACTIVE' });
      const course = (
        await platform.call('POST', `${acme.base}/learning-objects`, { loType: 'course', name: 'C', via: 'migration' }, acme.token)
      ).json().id;
      const instance = (
        await platform.call('POST', `${acme.base}/learning-objects/${course}/instances`, { name: 'I', seatLimit: 10 }, acme.token)
      ).json().id;
      const users: number[] = [];
      for (const name of ['ann', 'bob', 'cid'])
        users.push((await platform.call('POST', `${acme.base}/users`, { name, email: `${name}@example.com` }, acme.token)).json().id);
      const [ann, bob, cid] = users as [number, number, number];
      await platform.call('DELETE', `${acme.base}/users/${bob}`, undefined, acme.token);
      // Each token is known already, so no request waits on the database before its write is queued.
      for (const account of [acme, other, inactive]) await platform.call('GET', `${account.base}/events`, undefined, account.token);
      const acmeBefore = await seqsOf(acme.id);
      const stateBefore = await platform.snapshot();

      const signals: number[][] = [];
      platform.context.signals.on('events-appended', (ids) => signals.push([...ids].sort((a, b) => a - b)));
      const enroll = (userId: number) =>
        platform.call('POST', `${acme.base}/enrollments`, { userId, loInstanceId: instance, actor: 'learner' }, acme.token);
      // Issued in one turn of the event loop: they reach the group commit together.
      const answers = await Promise.all([
        enroll(ann),
        enroll(bob), // a deleted learner: the rule refuses
        platform.call('POST', `${other.base}/events`, { events: [rawEvent('grouped-1'), rawEvent('grouped-2')] }, other.token),
        platform.call('POST', `${inactive.base}/events`, { events: [rawEvent('refused-1')] }, inactive.token), // not ACTIVE
        enroll(cid),
        platform.call('POST', '/v1/accounts/999999/events', { events: [rawEvent('nobody-1')] }, adminToken), // no such account
      ]);
      assert.deepEqual(
        answers.map((answer) => answer.statusCode),
        [201, 409, 200, 409, 201, 404],
      );
      assert.deepEqual(signals, [[acme.id, other.id]], 'one group committed both accounts, and signalled once');

      const stateAfter = (await platform.snapshot()) as {
        enrollments: { user_id: number }[];
        instances: { id: string; enrollment_count: number }[];
        events: unknown[];
      };
      assert.deepEqual(
        stateAfter.enrollments.filter((row) => users.includes(row.user_id)).map((row) => row.user_id),
        [ann, cid],
      );
      assert.equal(stateAfter.instances.find((row) => row.id === instance)?.enrollment_count, 2);
      // Acme's log gained the two enrollments' events, gap-free after what it had; Other's has both raw events.
      const acmeAfter = await seqsOf(acme.id);
      assert.deepEqual(
        acmeAfter,
        Array.from({ length: acmeAfter.length }, (_, index) => index + 1),
      );
      assert.equal(acmeAfter.length - acmeBefore.length, 4, 'COURSE_ENROLLMENT and CI_STATS for each of the two');
      assert.deepEqual(
        answers[2]?.json().accepted.map((accepted: { eventId: string; seq: number }) => [accepted.eventId, accepted.seq]),
        [
          ['grouped-1', 1],
          ['grouped-2', 2],
        ],
      );
      assert.deepEqual(await seqsOf(inactive.id), []);
      const rowsOf = (state: unknown) => {
        const { users, learningObjects, scheduled } = state as Record<string, unknown>;
        return { users, learningObjects, scheduled };
      };
      assert.deepEqual(rowsOf(stateAfter), rowsOf(stateBefore), 'the refused requests wrote no other row');
      assert.equal(stateAfter.events.length, (stateBefore as { events: unknown[] }).events.length + 6);
    });

    test('an event id published twice in one group is appended once; the second request reports it as a duplicate', async () => {
      const account = await newAccount('Twice');
      const answers = await Promise.all([
        platform.call('POST', `${account.base}/events`, { events: [rawEvent('twice-1'), rawEvent('once-2')] }, account.token),
        platform.call('POST', `${account.base}/events`, { events: [rawEvent('twice-1'), rawEvent('once-3')] }, account.token),
      ]);
      assert.deepEqual(
        answers.map((answer) => answer.json()),
        [
          {
            accepted: [
              { eventId: 'twice-1', seq: 1 },
              { eventId: 'once-2', seq: 2 },
            ],
            duplicates: [],
          },
          { accepted: [{ eventId: 'once-3', seq: 3 }], duplicates: ['twice-1'] },
        ],
      );
    });

    test('the enrollment actions of one group see what the actions before them wrote, and so does any other write of the group', async () => {
      const acme = await newAccount('Staged');
      const course = (
        await platform.call('POST', `${acme.base}/learning-objects`, { loType: 'course', name: 'C', via: 'migration' }, acme.token)
      ).json().id;
      const instance = (
        await platform.call(
          'POST',
          `${acme.base}/learning-objects/${course}/instances`,
          { name: 'I', seatLimit: 2, waitlistLimit: 1 },
          acme.token,
        )
      ).json().id;
      const users: number[] = [];
      for (const name of ['ann', 'bob', 'cid', 'dan'])
        users.push((await platform.call('POST', `${acme.base}/users`, { name, email: `${name}@example.com` }, acme.token)).json().id);
      const [ann, bob, cid, dan] = users as [number, number, number, number];
      await platform.call('GET', `${acme.base}/events`, undefined, acme.token);
      const signals: number[][] = [];
      const onAppended = (ids: readonly number[]) => {
        signals.push([...ids]);
      };
      platform.context.signals.on('events-appended', onAppended);
      const request = { loInstanceId: instance, actor: 'learner' };
      const enrollments = `${acme.base}/enrollments`;
      // Issued in one turn of the event loop: one group, in this order.
      const answers = await Promise.all([
        platform.call('POST', enrollments, { ...request, userId: ann }, acme.token),
        platform.call('POST', `${enrollments}/progress`, { ...request, userId: ann, progressPercent: 40 }, acme.token),
        platform.call('POST', enrollments, { ...request, userId: bob }, acme.token),
        platform.call('POST', enrollments, { ...request, userId: ann }, acme.token), // enrolled a moment ago
        platform.call('POST', enrollments, { ...request, userId: cid }, acme.token), // both seats taken: the waitlist
        // A write that reads the instance itself: it sees the counts the enrollments before it left.
        platform.call(
          'PATCH',
          `${acme.base}/learning-objects/${course}/instances/${instance}`,
          { name: 'Renamed', waitlistLimit: 2 },
          acme.token,
        ),
        // ...and the enrollments after it see its change: a place on the longer waitlist.
        platform.call('POST', enrollments, { ...request, userId: dan }, acme.token),
        platform.call('POST', enrollments, { ...request, userId: 999_999 }, acme.token), // no such learner
        platform.call('POST', `${enrollments}/unenroll`, { ...request, userId: bob }, acme.token),
      ]);
      platform.context.signals.off('events-appended', onAppended);
      assert.deepEqual(
        answers.map((answer) => answer.statusCode),
        [201, 200, 201, 409, 201, 200, 201, 404, 200],
        answers.map((answer) => answer.body).join('\n'),
      );
      assert.deepEqual(signals, [[acme.id]], 'one group');
      assert.equal(answers[1]?.json().progressPercent, 40);
      assert.equal(answers[4]?.json().state, 'WAITLISTED');
      assert.equal(answers[6]?.json().state, 'WAITLISTED');
      assert.deepEqual([answers[5]?.json().enrollmentCount, answers[5]?.json().waitlistCount], [2, 1]);
      const stored = await platform.database.db
        .selectFrom('enrollments')
        .select(['user_id', 'state', 'progress_percent'])
        .where('lo_instance_id', '=', instance)
        .orderBy('user_id')
        .execute();
      assert.deepEqual(
        stored.map((row) => [row.user_id, row.state, Number(row.progress_percent)]),
        [
          [ann, 'ENROLLED', 40],
          [bob, 'UNENROLLED', 0],
          [cid, 'WAITLISTED', 0],
          [dan, 'WAITLISTED', 0],
        ],
      );
      const counts = await platform.database.db
        .selectFrom('lo_instances')
        .select(['enrollment_count', 'waitlist_count', 'name'])
        .where('id', '=', instance)
        .executeTakeFirstOrThrow();
      assert.deepEqual([Number(counts.enrollment_count), Number(counts.waitlist_count), counts.name], [1, 2, 'Renamed']);
    });

    test('enrollments of two accounts in one group each see their own account’s instance and learners', async () => {
      // Instance A has one seat and no waitlist, B two seats: the outcomes tell whose rows each enrollment read.
      const setUp = async (name: string, seatLimit: number) => {
        const account = await newAccount(name);
        const course = (
          await platform.call('POST', `${account.base}/learning-objects`, { loType: 'course', name, via: 'migration' }, account.token)
        ).json().id;
        const instance = (
          await platform.call(
            'POST',
            `${account.base}/learning-objects/${course}/instances`,
            { name, seatLimit, waitlistLimit: 0 },
            account.token,
          )
        ).json().id as string;
        const users: number[] = [];
        for (const user of ['one', 'two'])
          users.push(
            (
              await platform.call('POST', `${account.base}/users`, { name: user, email: `${user}@${name}.example.com` }, account.token)
            ).json().id,
          );
        return { ...account, instance, users: users as [number, number] };
      };
      const a = await setUp('two-accounts-a', 1);
      const b = await setUp('two-accounts-b', 2);
      const enroll = (account: typeof a, userId: number, loInstanceId = account.instance) =>
        platform.call('POST', `${account.base}/enrollments`, { userId, loInstanceId, actor: 'learner' }, account.token);
      const answers = await Promise.all([
        enroll(a, a.users[0]),
        enroll(b, b.users[0]),
        enroll(a, a.users[1]), // A's one seat is taken, and it has no waitlist
        enroll(b, b.users[1]),
        enroll(a, b.users[0]), // B's learner is no learner of A
        enroll(b, b.users[1], a.instance), // nor is A's instance one of B's
      ]);
      assert.deepEqual(
        answers.map((answer) => answer.statusCode),
        [201, 201, 409, 201, 404, 404],
        answers.map((answer) => answer.body).join('\n'),
      );
    });

    test('a learning program enrolled and completed within one group ends as it does one request at a time', async () => {
      /** An account with a program of two published courses, each with an instance, and one learner. */
      async function programAccount(name: string) {
        const account = await newAccount(name);
        const post = async (path: string, body: unknown) =>
          (await platform.call('POST', `${account.base}${path}`, body, account.token)).json();
        const courses: string[] = [];
        const instances: string[] = [];
        for (const course of ['C1', 'C2']) {
          const id = (await post('/learning-objects', { loType: 'course', name: course, via: 'migration' })).id;
          await post(`/learning-objects/${id}/publish`, {});
          courses.push(id);
          instances.push((await post(`/learning-objects/${id}/instances`, { name: `${course} instance` })).id);
        }
        const program = (await post('/learning-objects', { loType: 'learningProgram', name: 'P', children: courses })).id;
        await post(`/learning-objects/${program}/publish`, {});
        const programInstance = (await post(`/learning-objects/${program}/instances`, { name: 'Cohort' })).id;
        const user = (await post('/users', { name: 'ann', email: 'ann@example.com' })).id;
        const [first, second] = instances as [string, string];
        const learner = (loInstanceId: string, extra = {}) => ({ userId: user, loInstanceId, actor: 'learner', ...extra });
        const requests: [string, unknown][] = [
          ['/enrollments', learner(programInstance)],
          ['/enrollments/unenroll', learner(first)], // a course of the program: refused
          ['/enrollments/progress', learner(first, { progressPercent: 30 })],
          ['/enrollments/complete', learner(first)],
          ['/enrollments/complete', learner(second)], // the program's last course: the program completes too
        ];
        const send = ([path, body]: [string, unknown]) => platform.call('POST', `${account.base}${path}`, body, account.token);
        return { account, requests, send };
      }
      const stateOf = async (accountId: number) => ({
        enrollments: (
          await platform.database.db
            .selectFrom('enrollments')
            .select(['lo_type', 'state', 'progress_percent', 'has_passed'])
            .where('account_id', '=', accountId)
            .orderBy('lo_type')
            .orderBy('lo_id')
            .execute()
        ).map((row) => [row.lo_type, row.state, Number(row.progress_percent), row.has_passed]),
        events: (
          await platform.database.db.selectFrom('events').select('event_name').where('account_id', '=', accountId).orderBy('seq').execute()
        ).map((row) => row.event_name),
        instances: (
          await platform.database.db
            .selectFrom('lo_instances')
            .select(['enrollment_count', 'waitlist_count'])
            .where('account_id', '=', accountId)
            .orderBy('num')
            .execute()
        ).map((row) => [Number(row.enrollment_count), Number(row.waitlist_count)]),
      });

      const alone = await programAccount('One at a time');
      const aloneAnswers = [];
      for (const request of alone.requests) aloneAnswers.push((await alone.send(request)).statusCode);
      const grouped = await programAccount('Grouped');
      await platform.call('GET', `${grouped.account.base}/events`, undefined, grouped.account.token);
      const signals: number[][] = [];
      const onAppended = (ids: readonly number[]) => {
        signals.push([...ids]);
      };
      platform.context.signals.on('events-appended', onAppended);
      const groupedAnswers = (await Promise.all(grouped.requests.map(grouped.send))).map((answer) => answer.statusCode);
      platform.context.signals.off('events-appended', onAppended);

      assert.deepEqual(signals, [[grouped.account.id]], 'one group');
      assert.deepEqual(aloneAnswers, [201, 409, 200, 200, 200]);
      assert.deepEqual(groupedAnswers, aloneAnswers);
      const expected = await stateOf(alone.account.id);
      assert.ok(expected.events.includes('LEARNING_PATH_COMPLETED'), expected.events.join(', '));
      assert.deepEqual(await stateOf(grouped.account.id), expected);
    });
  });

  describe(`account writes from two processes on ${dialect.name}`, { skip: dialect.skip }, () => {
    test('concurrent publishes to many accounts from two pools never deadlock; every log is gap-free, and a reader never sees n+1 before n', async () => {
      const url = await dialect.freshUrl();
      const contexts: ProducerContext[] = [];
      try {
        for (let index = 0; index < 2; index++) {
          const database = await openDatabase<ProducerSchema>(url);
          if (index === 0) await migrate(database as Database<unknown>, 'producer');
          contexts.push(createProducerContext(loadSettings({ logLevel: 'silent' }, {}), database, { logger: createLogger('silent') }));
        }
        const [first, second] = contexts as [ProducerContext, ProducerContext];
        const accountIds: number[] = [];
        for (let index = 0; index < 12; index++) accountIds.push((await createAccount(first, { name: `p${index}` })).id);
        const deadlocksBefore = await deadlocks(first);

        let publishing = true;
        const violations: string[] = [];
        const reader = (async () => {
          while (publishing) {
            const rows = await second.database.db
              .selectFrom('events')
              .select(['account_id', 'seq'])
              .orderBy('account_id')
              .orderBy('seq')
              .execute();
            const seen = new Map<number, number>();
            for (const row of rows) {
              const expected = (seen.get(row.account_id) ?? 0) + 1;
              if (row.seq !== expected) violations.push(`account ${row.account_id}: seq ${row.seq} visible before ${expected}`);
              seen.set(row.account_id, row.seq);
            }
            await sleep(1);
          }
        })();
        // Each process keeps 16 requests in flight, each to a random account: every group locks several accounts, in
        // whatever order they arrived, and the two processes' groups overlap.
        let random = 7;
        const nextAccount = () => {
          random = (random * 48271) % 2147483647;
          return accountIds[random % accountIds.length] as number;
        };
        const accepted = new Map<number, number>();
        const publisher = async (context: ProducerContext, name: string, loop: number) => {
          for (let index = 0; index < 40; index++) {
            const accountId = nextAccount();
            const result = await publishEvents(context, accountId, [
              rawEvent(`${name}-${loop}-${index}-a`),
              rawEvent(`${name}-${loop}-${index}-b`),
            ]);
            accepted.set(accountId, (accepted.get(accountId) ?? 0) + result.accepted.length);
          }
        };
        await Promise.all(
          [first, second].flatMap((context, side) => Array.from({ length: 16 }, (_, loop) => publisher(context, `side${side}`, loop))),
        );
        publishing = false;
        await reader;

        assert.deepEqual(violations, []);
        for (const accountId of accountIds) {
          const seqs = (
            await first.database.db.selectFrom('events').select('seq').where('account_id', '=', accountId).orderBy('seq').execute()
          ).map((row) => row.seq);
          assert.deepEqual(
            seqs,
            Array.from({ length: accepted.get(accountId) ?? 0 }, (_, index) => index + 1),
            `account ${accountId}'s log is gap-free and holds every accepted event`,
          );
        }
        if (dialect.name === 'postgres') assert.equal(await deadlocks(first), deadlocksBefore, 'PostgreSQL detected no deadlock');
      } finally {
        for (const context of contexts) await context.database.close();
        await dropTestDatabase(url);
      }
    });
  });
}

/** PostgreSQL's count of deadlocks it broke in this database (0 on SQLite, which has one writer). */
async function deadlocks(context: ProducerContext): Promise<number> {
  if (context.database.dialect !== 'postgres') return 0;
  const result = await sql<{ deadlocks: number }>`select deadlocks from pg_stat_database where datname = current_database()`.execute(
    context.database.db,
  );
  return Number(result.rows[0]?.deadlocks ?? 0);
}
