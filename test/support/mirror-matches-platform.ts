// For end-to-end tests: asserts that a mirror's tables hold what the platform holds for one account (enrollments,
// learning objects, instances and, when enriched, users), reading the platform through its API.
import assert from 'node:assert/strict';
import type { Kysely } from 'kysely';
import type { MirrorSchema } from '../../src/mirror/schema.ts';
import type { PlatformClient } from '../../src/simulate/platform-client.ts';

/** Every item of a paged list of the platform API. */
export async function allPages<T>(client: PlatformClient, path: string, key: string, cursorParam: string): Promise<T[]> {
  const items: T[] = [];
  let next: number | null = 0;
  while (next !== null) {
    const separator = path.includes('?') ? '&' : '?';
    const page: Record<string, unknown> = await client.expect('GET', `${path}${separator}${cursorParam}=${next}&limit=500`);
    items.push(...(page[key] as T[]));
    next = (page.next as number | null) ?? null;
  }
  return items;
}

const titleCase = (state: string) => state.charAt(0).toUpperCase() + state.slice(1);

/**
 * The mirror's enrollments, learning objects and instances of `accountId` equal the platform's, row for row; with
 * `users`, every user the mirror holds carries the platform's name and e-mail (the enricher ran).
 */
export async function assertMirrorMatchesPlatform(
  client: PlatformClient,
  mirrorDb: Kysely<MirrorSchema>,
  accountId: number,
  options: { users: boolean },
): Promise<void> {
  const base = `/v1/accounts/${accountId}`;
  // Enrollments: every record the events describe, with the same status, progress and result.
  const platformEnrollments = await allPages<{
    userId: number;
    loInstanceId: string;
    loId: string;
    state: string;
    progressPercent: number;
    hasPassed: boolean | null;
    parentInstanceId: string | null;
  }>(client, `${base}/enrollments`, 'enrollments', 'cursor');
  const mirrored = await mirrorDb.selectFrom('enrollments').selectAll().where('account_id', '=', accountId).execute();
  const mirroredByKey = new Map(mirrored.map((row) => [`${row.user_id}|${row.lo_instance_id}`, row]));
  const platformByKey = new Map(platformEnrollments.map((row) => [`${row.userId}|${row.loInstanceId}`, row]));
  const history = async (userId: number, loInstanceId: string) => {
    const log = await allPages<{ eventName: string; timestamp: string; data: Record<string, unknown> }>(
      client,
      `${base}/events`,
      'events',
      'after',
    );
    return JSON.stringify(
      log
        .filter((event) => event.data.userId === userId && event.data.loInstanceId === loInstanceId)
        .map((event) => [event.eventName, event.timestamp, event.data.progressPercent]),
    );
  };
  for (const enrollment of platformEnrollments.filter((row) => row.parentInstanceId === null)) {
    const row = mirroredByKey.get(`${enrollment.userId}|${enrollment.loInstanceId}`);
    // Waitlisting emits no enrollment event (the guide has none; CI_STATS carries the waitlist count), nor does
    // leaving the waitlist: a record that was only ever waitlisted was never announced.
    if (!row) {
      assert.equal(
        await history(enrollment.userId, enrollment.loInstanceId),
        '[]',
        `account ${accountId}: the mirror lacks ${JSON.stringify(enrollment)}`,
      );
      continue;
    }
    if (enrollment.state === 'WAITLISTED') {
      assert.equal(row.status, 'UNENROLLED', `a waitlisted learner's last announced state: ${JSON.stringify(enrollment)}`);
      continue;
    }
    assert.deepEqual(
      { status: row.status, progress: row.progress_percent, loId: row.lo_id },
      { status: enrollment.state, progress: enrollment.progressPercent, loId: enrollment.loId },
      `account ${accountId}: ${JSON.stringify(enrollment)}: ${await history(enrollment.userId, enrollment.loInstanceId)}`,
    );
    if (enrollment.state === 'COMPLETED' && enrollment.hasPassed !== null) {
      assert.equal(
        row.has_passed,
        enrollment.hasPassed ? 1 : 0,
        `hasPassed of ${JSON.stringify(enrollment)}: ${await history(enrollment.userId, enrollment.loInstanceId)}`,
      );
    }
  }
  for (const row of mirrored) {
    const enrollment = platformByKey.get(`${row.user_id}|${row.lo_instance_id}`);
    assert.ok(
      enrollment,
      `account ${accountId}: the mirror has an enrollment the platform does not: ${row.user_id} in ${row.lo_instance_id}`,
    );
    if (enrollment.parentInstanceId !== null) {
      // Known only through LEARNER_PROGRESS (events for the parent only): progress implies enrollment.
      assert.equal(row.progress_percent, enrollment.progressPercent, `child enrollment ${row.user_id} in ${row.lo_instance_id}`);
    }
  }

  // Learning objects and instances: the same live set, names, states and seat limits (job aids emit nothing).
  const los = await allPages<{
    id: string;
    loType: string;
    name: string;
    state: string;
    instances: { id: string; name: string; state: string; seatLimit: number | null }[];
  }>(client, `${base}/learning-objects`, 'learningObjects', 'after');
  const platformLos = los.filter((lo) => lo.loType !== 'jobAid');
  const mirrorLos = await mirrorDb
    .selectFrom('learning_objects')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('deleted_at', 'is', null)
    .execute();
  assert.deepEqual(
    mirrorLos.map((lo) => ({ id: lo.lo_id, name: lo.name, state: lo.state })).sort((a, b) => a.id.localeCompare(b.id)),
    platformLos.map((lo) => ({ id: lo.id, name: lo.name, state: titleCase(lo.state) })).sort((a, b) => a.id.localeCompare(b.id)),
    `account ${accountId}: learning objects`,
  );
  const platformInstances = platformLos.flatMap((lo) => lo.instances.filter((instance) => instance.state !== 'deleted'));
  const mirrorInstances = await mirrorDb
    .selectFrom('lo_instances')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('deleted_at', 'is', null)
    .execute();
  const liveMirrorInstances = mirrorInstances.filter((instance) => platformLos.some((lo) => lo.id === instance.lo_id));
  assert.deepEqual(
    liveMirrorInstances
      .map((i) => ({ id: i.lo_instance_id, name: i.name, state: i.state, seatLimit: i.seat_limit }))
      .sort((a, b) => a.id.localeCompare(b.id)),
    platformInstances
      .map((i) => ({ id: i.id, name: i.name, state: titleCase(i.state), seatLimit: i.seatLimit }))
      .sort((a, b) => a.id.localeCompare(b.id)),
    `account ${accountId}: instances`,
  );

  if (!options.users) return;
  // Users seen in events carry the platform's name and e-mail.
  const users = await mirrorDb.selectFrom('users').selectAll().where('account_id', '=', accountId).execute();
  assert.ok(users.length > 0, `account ${accountId}: the mirror enriched no users`);
  for (const user of users) {
    const platformUser = await client.expect<{ name: string; email: string }>('GET', `${base}/users/${user.user_id}`);
    assert.deepEqual({ name: user.name, email: user.email }, { name: platformUser.name, email: platformUser.email });
  }
}
