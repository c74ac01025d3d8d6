// Input that used to crash a store (500) is refused with a clear 4xx on both stores, and writes nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDialects } from '../../test/support/test-databases.ts';
import { adminToken, openTestPlatform, type TestPlatform } from '../../test/support/test-platform.ts';
import { sampleEvent } from '../catalog/index.ts';
import { maxId } from './path-params.ts';

const dialects = await testDialects();

for (const dialect of dialects) {
  describe(`bad input on ${dialect.name}`, { skip: dialect.skip }, () => {
    let platform: TestPlatform;
    let accountId: number;
    let token: string;
    let courseId: string;
    let instanceId: string;
    const base = () => `/v1/accounts/${accountId}`;

    /** A request that must be refused with `status` and a message, writing nothing. */
    async function refused(status: number, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown, as = token) {
      const before = await platform.snapshot();
      const response = await platform.call(method, url, body, as);
      assert.equal(response.statusCode, status, `${method} ${url}: ${response.body}`);
      const payload = response.json();
      const message: string = payload.error?.message ?? payload.errors?.[0]?.detail;
      assert.equal(typeof message, 'string', response.body);
      assert.ok(message.length > 10, 'the message says what is wrong');
      assert.deepEqual(await platform.snapshot(), before, 'a refused request writes nothing');
      return message;
    }

    before(async () => {
      platform = await openTestPlatform(dialect);
      const account = (await platform.call('POST', '/v1/accounts', { name: 'Acme' })).json();
      accountId = account.id;
      token = account.token;
      courseId = (await platform.call('POST', `${base()}/learning-objects`, { loType: 'course', name: 'Safety' }, token)).json().id;
      await platform.call('POST', `${base()}/learning-objects/${courseId}/publish`, undefined, token);
      instanceId = (await platform.call('POST', `${base()}/learning-objects/${courseId}/instances`, { name: 'Spring' }, token)).json().id;
    });
    after(async () => {
      await platform?.close();
    });

    test('a raw event whose timestamp has the shape of a time but is no date is refused, naming the field', async () => {
      const event = { ...sampleEvent('LEARNING_OBJECT_DRAFT'), timestamp: '2026-13-45T99:99:99Z' };
      const message = await refused(400, 'POST', `${base()}/events`, { events: [event] });
      assert.match(message, /events\[0\]\.timestamp/);
      const february = { ...sampleEvent('LEARNING_OBJECT_DRAFT'), timestamp: '2026-02-30T10:00:00Z' };
      await refused(400, 'POST', `${base()}/events`, { events: [february] });
    });

    test('a date-time inside data must be a real date too (it was stored as NULL)', async () => {
      const enrollment = sampleEvent('COURSE_ENROLLMENT');
      const event = { ...enrollment, data: { ...enrollment.data, dateEnrolled: '2026-13-45T99:99:99Z' } };
      const message = await refused(400, 'POST', `${base()}/events`, { events: [event] });
      assert.match(message, /events\[0\]\.data\.dateEnrolled/);
    });

    test('who asks is checked before the body: no token is 401 and another account is 404, whatever the body', async () => {
      const other = (await platform.call('POST', '/v1/accounts', { name: 'Other' })).json();
      const malformed = '{"events": [';
      const wrongShape = { events: 'not a list', extra: true };
      for (const body of [malformed, wrongShape]) {
        assert.match(await refused(401, 'POST', `${base()}/events`, body, 'lh_not_a_token'), /token/);
        await refused(404, 'POST', `${base()}/events`, body, other.token);
        await refused(404, 'POST', `${base()}/enrollments`, body, other.token);
        // With the right token, the body is what is wrong.
        await refused(400, 'POST', `${base()}/events`, body);
      }
      const anonymous = await platform.app.inject({ method: 'POST', url: `${base()}/users`, payload: { name: 7 } });
      assert.equal(anonymous.statusCode, 401, anonymous.body);
    });

    test('a NUL character in any string is refused, naming the field, on every route', async () => {
      assert.match(await refused(400, 'POST', `${base()}/users`, { name: 'A\u0000n', email: 'ann@example.com' }), /name/);
      assert.match(await refused(400, 'POST', '/v1/accounts', { name: 'Nul\u0000Corp' }, adminToken), /name/);
      const event = { ...sampleEvent('LEARNING_OBJECT_DRAFT'), eventId: 'id-\u0000' };
      assert.match(await refused(400, 'POST', `${base()}/events`, { events: [event] }), /events\[0\]\.eventId/);
      assert.match(await refused(400, 'PATCH', `${base()}/learning-objects/${courseId}`, { name: 'x\u0000' }), /name/);
      assert.match(await refused(400, 'GET', `/primeapi/v2/learningObjects?ids=course:1%00`), /ids/);
    });

    test('whole numbers beyond what the stores and JavaScript hold are refused on every route', async () => {
      const huge = [1e300, 2 ** 63, 2 ** 53, 1e20];
      for (const value of huge) {
        await refused(400, 'POST', `${base()}/learning-objects`, { loType: 'course', name: 'Big', duration: value });
        await refused(400, 'PATCH', `${base()}/learning-objects/${courseId}`, { duration: value });
        await refused(400, 'POST', `${base()}/learning-objects/${courseId}/instances`, { name: 'Big', seatLimit: value });
        await refused(400, 'POST', `${base()}/learning-objects/${courseId}/instances`, { name: 'Big', waitlistLimit: value });
        await refused(400, 'PATCH', `${base()}/learning-objects/${courseId}/instances/${instanceId}`, { seatLimit: value });
        await refused(400, 'POST', `${base()}/enrollments`, { userId: value, loInstanceId: instanceId, actor: 'admin' });
        await refused(400, 'POST', '/v1/accounts', { id: value, name: 'Big' }, adminToken);
      }
      const sample = sampleEvent('COURSE_ENROLLMENT');
      await refused(400, 'POST', `${base()}/events`, { events: [{ ...sample, data: { ...sample.data, userId: 2 ** 63 } }] });
      // Numbers written with more digits than an id may have (path, query cursors, the read API's ids and cursors).
      const tooLong = '9'.repeat(20);
      await refused(400, 'GET', `${base()}/events?after=${tooLong}`);
      await refused(400, 'GET', `${base()}/users?after=${tooLong}`);
      await refused(400, 'GET', `/v1/accounts/${tooLong}`, undefined, adminToken);
      await refused(400, 'GET', `/primeapi/v2/users/${tooLong}`);
      await refused(400, 'GET', `/primeapi/v2/users?ids=${tooLong}`);
      await refused(400, 'GET', `/primeapi/v2/users?page[cursor]=${tooLong}`);
      await refused(400, 'GET', `/primeapi/v2/learningObjects?page[cursor]=${tooLong}`);
    });

    test('account ids stay within the documented range, so every account stays addressable by its URL', async () => {
      // Just below and at the range's end: created, and readable by their URL.
      const last = await platform.call('POST', '/v1/accounts', { id: maxId, name: 'Last' });
      assert.equal(last.statusCode, 201, last.body);
      assert.equal(last.json().id, maxId);
      assert.equal((await platform.call('GET', `/v1/accounts/${maxId}`)).statusCode, 200);
      await refused(400, 'POST', '/v1/accounts', { id: maxId + 1, name: 'Beyond' }, adminToken);
      await refused(400, 'GET', `/v1/accounts/${maxId + 1}`, undefined, adminToken);
      // The next automatic id would be beyond the range: refused with a clear message rather than made unaddressable.
      const message = await refused(409, 'POST', '/v1/accounts', { name: 'Next' }, adminToken);
      assert.match(message, /id/);
    });

    test('registering a webhook to an IPv6 address that embeds a private IPv4 address is refused, without saying where a name points', async () => {
      for (const url of ['http://[::ffff:0:7f00:1]/hook', 'http://[::7f00:1]/hook', 'http://[2002:a9fe:a9fe::]/latest/meta-data/']) {
        const message = await refused(400, 'POST', `${base()}/webhooks`, { name: 'SSRF', url, events: ['CI_STATS'] });
        assert.match(message, /private or reserved address/);
      }
      const named = await refused(400, 'POST', `${base()}/webhooks`, { name: 'SSRF', url: 'http://localhost/hook', events: ['CI_STATS'] });
      assert.doesNotMatch(named, /127\.0\.0\.1|::1/);
    });

    test('a learner for an account that does not exist is 404, not a foreign-key 500 (simulate --account 999 met it)', async () => {
      const message = await refused(404, 'POST', '/v1/accounts/987654/users', { name: 'Ada', email: 'ada@example.com' }, adminToken);
      assert.match(message, /account 987654/);
    });

    test('two accounts never share one id: an explicit id that JavaScript would round is refused', async () => {
      await refused(400, 'POST', '/v1/accounts', { id: 2 ** 53 + 1, name: 'Rounded' }, adminToken);
    });
  });

  describe(`ids and races on ${dialect.name}`, { skip: dialect.skip }, () => {
    let platform: TestPlatform;
    before(async () => {
      platform = await openTestPlatform(dialect);
    });
    after(async () => {
      await platform?.close();
    });

    test('an explicit account id ahead of the automatic ones does not break a later create', async () => {
      const first = (await platform.call('POST', '/v1/accounts', { name: 'First' })).json();
      const explicit = await platform.call('POST', '/v1/accounts', { id: first.id + 1, name: 'Explicit' });
      assert.equal(explicit.statusCode, 201, explicit.body);
      const next = await platform.call('POST', '/v1/accounts', { name: 'Next' });
      assert.equal(next.statusCode, 201, next.body);
      assert.ok(next.json().id > first.id + 1);
    });

    test('concurrent duplicates answer 409, never 500: account ids and user e-mails', async () => {
      const id = 777_000;
      const accounts = await Promise.all(
        Array.from({ length: 8 }, (_, index) => platform.call('POST', '/v1/accounts', { id, name: `Twin ${index}` })),
      );
      assert.deepEqual(accounts.map((response) => response.statusCode).sort(), [201, 409, 409, 409, 409, 409, 409, 409]);
      for (const response of accounts.filter((each) => each.statusCode === 409)) assert.match(response.json().error.message, /777000/);
      const users = await Promise.all(
        Array.from({ length: 8 }, () => platform.call('POST', `/v1/accounts/${id}/users`, { name: 'Ann', email: 'ann@example.com' })),
      );
      assert.deepEqual(users.map((response) => response.statusCode).sort(), [201, 409, 409, 409, 409, 409, 409, 409]);
      for (const response of users.filter((each) => each.statusCode === 409))
        assert.match(response.json().error.message, /ann@example\.com/);
    });

    test('a field named __proto__ is refused with a message that says so', async () => {
      const response = await platform.call('POST', '/v1/accounts', '{"name":"Proto","__proto__":{"status":"INACTIVE"}}');
      assert.equal(response.statusCode, 400, response.body);
      assert.match(response.json().error.message, /__proto__/);
      assert.doesNotMatch(response.json().error.message, /not valid JSON/);
    });
  });
}
