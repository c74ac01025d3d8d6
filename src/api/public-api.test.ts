// The public read API /primeapi/v2 on both stores: JSON:API shapes, ids and paging, scoping, CSV reports and the rate limit.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { testDialects } from '../../test/support/test-databases.ts';
import { adminToken, openTestPlatform, type TestPlatform } from '../../test/support/test-platform.ts';
import { createProducerContext } from '../context.ts';
import { openDatabase } from '../store/database.ts';
import type { ProducerSchema } from '../store/schema.ts';
import { buildApp } from './app.ts';

const dialects = await testDialects();

for (const dialect of dialects) {
  describe(`public read API on ${dialect.name}`, { skip: dialect.skip }, () => {
    let platform: TestPlatform;
    let accountId: number;
    let token: string;
    let otherToken: string;
    const courses: string[] = [];
    let instanceId: string;
    let userIds: number[] = [];
    let startedAt: number;

    before(async () => {
      platform = await openTestPlatform(dialect, { apiRateLimit: 1000 });
      const account = (await platform.call('POST', '/v1/accounts', { name: 'Acme' })).json();
      accountId = account.id;
      token = account.token;
      otherToken = (await platform.call('POST', '/v1/accounts', { name: 'Other' })).json().token;
      const base = `/v1/accounts/${accountId}`;
      startedAt = Date.now();
      for (const name of ['Alpha', 'Beta, "the second"', 'Gamma']) {
        const course = (
          await platform.call('POST', `${base}/learning-objects`, { loType: 'course', name, description: `About ${name}` }, token)
        ).json();
        courses.push(course.id);
      }
      await platform.call('POST', `${base}/learning-objects/${courses[0]}/publish`, undefined, token);
      const instance = await platform.call(
        'POST',
        `${base}/learning-objects/${courses[0]}/instances`,
        { name: 'Spring', seatLimit: 20, waitlistLimit: 5 },
        token,
      );
      instanceId = instance.json().id;
      await platform.call('POST', `${base}/learning-objects/${courses[0]}/instances`, { name: 'Self', selfPaced: true }, token);
      await platform.call('DELETE', `${base}/learning-objects/${courses[2]}`, undefined, token);
      userIds = [];
      for (const name of ['Ann', 'Bob', 'Cy']) {
        userIds.push((await platform.call('POST', `${base}/users`, { name, email: `${name.toLowerCase()}@example.com` }, token)).json().id);
      }
    });
    after(async () => {
      await platform?.close();
    });

    test('learningObjects by ids with include=instances has the contract shape', async () => {
      const response = await platform.call(
        'GET',
        `/primeapi/v2/learningObjects?ids=${courses[0]},${courses[2]},course:424242&include=instances`,
        undefined,
        token,
      );
      assert.equal(response.statusCode, 200);
      assert.match(String(response.headers['content-type']), /^application\/vnd\.api\+json/);
      const body = response.json();
      assert.equal(body.data.length, 1, 'deleted and unknown ids are simply absent');
      const [lo] = body.data;
      assert.equal(lo.id, courses[0]);
      assert.equal(lo.type, 'learningObject');
      assert.equal(lo.attributes.loType, 'course');
      assert.equal(lo.attributes.state, 'Published');
      assert.equal(lo.attributes.enrollmentType, 'Self Enroll');
      assert.equal(lo.attributes.loFormat, 'Blended');
      assert.deepEqual(lo.attributes.localizedMetadata, [{ locale: 'en-US', name: 'Alpha', description: 'About Alpha' }]);
      assert.match(lo.attributes.datePublished, /Z$/);
      assert.equal(lo.relationships.instances.data.length, 2);
      const included = body.included.find((instance: { id: string }) => instance.id === instanceId);
      assert.deepEqual(included.relationships, { learningObject: { data: { id: courses[0], type: 'learningObject' } } });
      assert.equal(included.type, 'learningObjectInstance');
      assert.deepEqual(
        { ...included.attributes, dateCreated: undefined },
        {
          state: 'Active',
          dateCreated: undefined,
          isDefault: true,
          seatLimit: 20,
          waitlistLimit: 5,
          enrollmentDeadline: null,
          localizedMetadata: [{ locale: 'en-US', name: 'Spring' }],
        },
      );
      const draft = (await platform.call('GET', `/primeapi/v2/learningObjects?ids=${courses[1]}`, undefined, token)).json();
      assert.equal(draft.data[0].attributes.state, 'Draft');
      assert.equal(draft.data[0].attributes.datePublished, null);
      assert.equal(draft.included, undefined);
    });

    test('more than ten ids answer 400 as a JSON:API error', async () => {
      const ids = Array.from({ length: 11 }, (_, index) => `course:${index + 1}`).join(',');
      const response = await platform.call('GET', `/primeapi/v2/learningObjects?ids=${ids}`, undefined, token);
      assert.equal(response.statusCode, 400);
      assert.match(response.json().errors[0].detail, /at most 10 ids/);
    });

    test('without ids, learning objects page with page[limit] and links.next', async () => {
      const seen: string[] = [];
      let url: string | undefined = '/primeapi/v2/learningObjects?page[limit]=1';
      while (url) {
        const body: { data: { id: string }[]; links: { next?: string } } = (await platform.call('GET', url, undefined, token)).json();
        seen.push(...body.data.map((lo: { id: string }) => lo.id));
        url = body.links.next ? new URL(body.links.next).pathname + new URL(body.links.next).search : undefined;
      }
      assert.deepEqual(seen, [courses[0], courses[1]]);
      const bad = await platform.call('GET', '/primeapi/v2/learningObjects?page[limit]=500', undefined, token);
      assert.equal(bad.statusCode, 400);
    });

    test('an account token sees only its account; the admin token sees all; oauth works like Bearer', async () => {
      const other = (await platform.call('GET', `/primeapi/v2/learningObjects?ids=${courses[0]}`, undefined, otherToken)).json();
      assert.deepEqual(other.data, []);
      const admin = await platform.app.inject({
        method: 'GET',
        url: `/primeapi/v2/learningObjects?ids=${courses[0]}`,
        headers: { authorization: `oauth ${adminToken}` },
      });
      assert.equal(admin.json().data.length, 1);
      const unauthenticated = await platform.app.inject({ method: 'GET', url: '/primeapi/v2/users' });
      assert.equal(unauthenticated.statusCode, 401);
    });

    test('users: paged list, by ids, one by id, 404 for unknown', async () => {
      const page = (await platform.call('GET', '/primeapi/v2/users?page[limit]=2', undefined, token)).json();
      assert.deepEqual(
        page.data.map((user: { id: string }) => user.id),
        userIds.slice(0, 2).map(String),
      );
      assert.ok(page.links.next);
      const byIds = (await platform.call('GET', `/primeapi/v2/users?ids=${userIds[2]},${userIds[0]}`, undefined, token)).json();
      assert.equal(byIds.data.length, 2);
      const one = (await platform.call('GET', `/primeapi/v2/users/${userIds[1]}`, undefined, token)).json();
      assert.deepEqual(one.data, {
        id: String(userIds[1]),
        type: 'user',
        attributes: {
          name: 'Bob',
          email: 'bob@example.com',
          userUniqueId: one.data.attributes.userUniqueId,
          userType: 'Internal',
          state: 'ACTIVE',
          timeZoneCode: 'UTC',
        },
      });
      const missing = await platform.call('GET', '/primeapi/v2/users/987654', undefined, token);
      assert.equal(missing.statusCode, 404);
      assert.equal(missing.json().errors[0].status, '404');
      const foreign = await platform.call('GET', `/primeapi/v2/users/${userIds[0]}`, undefined, otherToken);
      assert.equal(foreign.statusCode, 404);
    });

    test('the user report is CSV with the contract columns', async () => {
      const response = await platform.call('GET', '/primeapi/v2/reports/users.csv', undefined, token);
      assert.match(String(response.headers['content-type']), /^text\/csv/);
      const rows = parse(response.body, { columns: true }) as Record<string, string>[];
      assert.deepEqual(Object.keys(rows[0] ?? {}), ['userId', 'name', 'email', 'userUniqueId', 'userType', 'state']);
      assert.deepEqual(
        rows.map((row) => row.name),
        ['Ann', 'Bob', 'Cy'],
      );
    });

    test('the training report has one row per LO and instance, quotes by RFC 4180, and honours since', async () => {
      const response = await platform.call('GET', '/primeapi/v2/reports/training.csv', undefined, token);
      const rows = parse(response.body, { columns: true }) as Record<string, string>[];
      assert.deepEqual(
        rows.map((row) => [row.loId, row.name, row.state, row.loInstanceId, row.instanceState, row.seatLimit]),
        [
          [courses[0], 'Alpha', 'Published', instanceId, 'Active', '20'],
          [courses[0], 'Alpha', 'Published', rows[1]?.loInstanceId, 'Active', ''],
          [courses[1], 'Beta, "the second"', 'Draft', '', '', ''],
        ],
      );
      assert.match(response.body, /"Beta, ""the second"""/);
      const future = new Date(Date.now() + 60_000).toISOString();
      const none = parse((await platform.call('GET', `/primeapi/v2/reports/training.csv?since=${future}`, undefined, token)).body, {
        columns: true,
      });
      assert.deepEqual(none, []);
      const since = new Date(startedAt - 1000).toISOString();
      const all = parse((await platform.call('GET', `/primeapi/v2/reports/training.csv?since=${since}`, undefined, token)).body, {
        columns: true,
      });
      assert.equal(all.length, 3);
    });
  });

  describe(`public read API rate limit on ${dialect.name}`, { skip: dialect.skip }, () => {
    let platform: TestPlatform;
    before(async () => {
      platform = await openTestPlatform(dialect, { apiRateLimit: 3, apiRateWindowMs: 60_000 });
    });
    after(async () => {
      await platform?.close();
    });

    test('above the limit per token: 429 with the platform body and a retry-after in seconds; other tokens unaffected', async () => {
      const account = (await platform.call('POST', '/v1/accounts', { name: 'Limited' })).json();
      const remaining: string[] = [];
      for (let index = 0; index < 3; index++) {
        const response = await platform.call('GET', '/primeapi/v2/users', undefined, account.token);
        assert.equal(response.statusCode, 200);
        assert.equal(response.headers['x-ratelimit-limit'], '3');
        remaining.push(String(response.headers['x-ratelimit-remaining']));
      }
      assert.deepEqual(remaining, ['2', '1', '0']);
      const refused = await platform.call('GET', '/primeapi/v2/users', undefined, account.token);
      assert.equal(refused.statusCode, 429);
      assert.deepEqual(refused.json(), { message: '429 Too many requests' });
      const retryAfter = Number(refused.headers['retry-after']);
      assert.ok(retryAfter > 0 && retryAfter <= 60, `retry-after ${retryAfter}`);
      assert.equal(
        (await platform.call('GET', '/primeapi/v2/reports/users.csv', undefined, account.token)).statusCode,
        429,
        'reports share the limit',
      );
      assert.equal((await platform.call('GET', '/primeapi/v2/users', undefined, adminToken)).statusCode, 200);
    });
  });

  describe(`public read API rate limit shared by two serve processes on ${dialect.name}`, { skip: dialect.skip }, () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const clock = () => now;
    let platform: TestPlatform;
    /** A second serve process: its own connection to the same database, its own app. */
    let second: Awaited<ReturnType<typeof buildApp>>;
    let secondClose: () => Promise<void>;
    before(async () => {
      const settings = { apiRateLimit: 4, apiRateWindowMs: 60_000 };
      platform = await openTestPlatform(dialect, settings, { now: clock });
      const database = await openDatabase<ProducerSchema>(platform.database.url);
      second = await buildApp(createProducerContext(platform.context.settings, database, { now: clock }));
      secondClose = async () => {
        await second.close();
        await database.close();
      };
    });
    after(async () => {
      await secondClose?.();
      await platform?.close();
    });

    test('one token has one budget across processes: requests to either count, and both refuse once it is spent', async () => {
      const account = (await platform.call('POST', '/v1/accounts', { name: 'Shared' })).json();
      const headers = { authorization: `Bearer ${account.token}` };
      const viaFirst = () => platform.call('GET', '/primeapi/v2/users', undefined, account.token);
      const viaSecond = () => second.inject({ url: '/primeapi/v2/users', headers });
      const answers = [];
      for (const send of [viaFirst, viaSecond, viaFirst, viaSecond, viaFirst, viaSecond]) {
        const response = await send();
        answers.push([response.statusCode, response.headers['x-ratelimit-remaining']]);
        now += 1000;
      }
      assert.deepEqual(answers, [
        [200, '3'],
        [200, '2'],
        [200, '1'],
        [200, '0'],
        [429, '0'],
        [429, '0'],
      ]);
      const refused = await viaSecond();
      assert.equal(refused.headers['retry-after'], '54.000', 'the window opened at the first request, 6 s ago, on the other process');
      now += 54_000;
      assert.equal((await viaSecond()).statusCode, 200, 'the window ended: a new one opens');
      assert.equal((await viaFirst()).headers['x-ratelimit-remaining'], '2', 'and the other process counts in it');
    });

    test('ended windows are pruned: the table holds a row per token with a window open, not a row per request', async () => {
      const rows = await platform.database.db.selectFrom('api_rate_windows').selectAll().execute();
      assert.equal(rows.length, 1);
      now += 120_000;
      const other = (await platform.call('POST', '/v1/accounts', { name: 'Later' })).json();
      await second.inject({ url: '/primeapi/v2/users', headers: { authorization: `Bearer ${other.token}` } });
      const left = await platform.database.db.selectFrom('api_rate_windows').select('requests').execute();
      assert.deepEqual(left, [{ requests: 1 }], "the first token's ended window is gone; the new one is counted");
    });
  });
}
