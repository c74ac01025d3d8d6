// A simulated workload through the platform API: accounts with learners, courses, a learning path and a certification,
// then a seeded random mix of enrollments, progress, completions, unenrollments and catalog changes at a bounded rate.
import { setTimeout as sleep } from 'node:timers/promises';
import { seededRandom } from '../platform/rules/progress.ts';
import type { ApiResponse, PlatformClient } from './platform-client.ts';

export interface WorkloadOptions {
  /** Accounts to create (needs the admin token); ignored when `accountIds` is given. */
  accounts: number;
  /** Existing accounts to use instead (an account token can only drive its own). */
  accountIds?: number[];
  learners: number;
  /** Actions per second across all accounts. */
  rate: number;
  durationMs: number;
  /** Stop after this many actions even if time remains. */
  maxActions?: number;
  seed: number;
  /** Called once per account after its catalog exists, before the random actions (e.g. to register a webhook). */
  onAccountReady?: (accountId: number, token: string | undefined) => Promise<void>;
  /** Called after each setup step and each action (the CLI draws its progress bar from it). */
  onProgress?: (snapshot: WorkloadProgress) => void;
  /** Accounts already set up by an earlier run (from `onWorldsChanged`): continued without creating anything again. */
  worlds?: SavedWorld[];
  /** Called after set-up and then now and then with what the workload knows, so a later run can continue it. */
  onWorldsChanged?: (worlds: SavedWorld[]) => void;
  /** Stops the workload early. */
  signal?: AbortSignal;
}

export interface WorkloadProgress {
  phase: 'setting up' | 'running';
  /** Milliseconds since the random actions started (0 while setting up). */
  elapsedMs: number;
  report: WorkloadReport;
}

export interface ActionCount {
  ok: number;
  /** Answered 4xx: the platform refused an action that its rules forbid (full course, already completed…). */
  refused: number;
  /** Answered 5xx or failed to connect. */
  failed: number;
}

export interface WorkloadReport {
  accountIds: number[];
  actions: number;
  byKind: Record<string, ActionCount>;
  elapsedMs: number;
  actionsPerSecond: number;
}

type Actor = 'learner' | 'admin' | 'manager' | 'platform';
const actorChoices: readonly Actor[] = ['learner', 'learner', 'learner', 'admin', 'manager', 'platform'];

interface EnrollmentModel {
  userId: number;
  loInstanceId: string;
  state: string;
  progressPercent: number;
}

/** What the simulator knows of one account, learned from the API's answers. */
interface AccountWorld {
  accountId: number;
  token?: string;
  users: number[];
  /** Published courses created through the UI, with their first instance. */
  courses: { loId: string; instanceId: string; limited: boolean }[];
  migratedCourse: { loId: string; instanceId: string };
  selfPacedCourse: string;
  extraSelfPacedInstances: string[];
  pathInstance: string;
  certificationInstance: string;
  /** Default instances of the learning path's child courses. */
  childInstances: string[];
  enrollments: Map<string, EnrollmentModel>;
  retiredCourses: number;
}

/** An account's world as JSON: what a later run needs to continue it. */
export type SavedWorld = Omit<AccountWorld, 'enrollments'> & { enrollments: EnrollmentModel[] };

const saveWorld = (world: AccountWorld): SavedWorld => ({ ...world, enrollments: [...world.enrollments.values()] });
const loadWorld = (saved: SavedWorld): AccountWorld => ({
  ...saved,
  enrollments: new Map(saved.enrollments.map((enrollment) => [key(enrollment.userId, enrollment.loInstanceId), enrollment])),
});

const key = (userId: number, instanceId: string) => `${userId}|${instanceId}`;

class Workload {
  readonly report: WorkloadReport = { accountIds: [], actions: 0, byKind: {}, elapsedMs: 0, actionsPerSecond: 0 };
  readonly random: () => number;
  /** Tells this run's learners apart from an earlier run's on the same account (e-mails are unique per account). */
  readonly runTag = Date.now().toString(36);
  started = 0;

  constructor(
    readonly client: PlatformClient,
    readonly options: WorkloadOptions,
  ) {
    this.random = seededRandom(options.seed);
  }

  progress(phase: WorkloadProgress['phase']): void {
    this.options.onProgress?.({ phase, elapsedMs: this.started ? Date.now() - this.started : 0, report: this.report });
  }

  pick<T>(items: readonly T[]): T | undefined {
    return items.length ? items[Math.floor(this.random() * items.length)] : undefined;
  }

  count(kind: string, response: ApiResponse | undefined): void {
    const entry = this.report.byKind[kind] ?? { ok: 0, refused: 0, failed: 0 };
    this.report.byKind[kind] = entry;
    if (!response || response.status >= 500) entry.failed++;
    else if (response.status >= 400) entry.refused++;
    else entry.ok++;
  }

  /** One API call that counts as an action of the given kind; never throws. */
  async act<T>(kind: string, method: 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T | undefined> {
    let response: ApiResponse<T> | undefined;
    try {
      response = await this.client.call<T>(method, path, body);
    } catch {
      response = undefined;
    }
    this.report.actions++;
    this.count(kind, response);
    this.progress('running');
    return response && response.status < 300 ? response.body : undefined;
  }

  /** Setup calls must succeed: the random phase relies on what they create. */
  async must<T>(method: 'POST' | 'PATCH', path: string, body?: unknown): Promise<T> {
    return this.client.expect<T>(method, path, body);
  }

  async createCourse(base: string, name: string, instance: Record<string, unknown>, via: 'ui' | 'migration' = 'ui') {
    const lo = await this.must<{ id: string }>('POST', `${base}/learning-objects`, { loType: 'course', name, via });
    if (via === 'ui') {
      await this.must('PATCH', `${base}/learning-objects/${lo.id}`, { name: `${name} (edited draft)` });
      await this.must('POST', `${base}/learning-objects/${lo.id}/publish`);
    }
    const created = await this.must<{ id: string }>('POST', `${base}/learning-objects/${lo.id}/instances`, {
      name: `${name} — instance`,
      via,
      ...instance,
    });
    return { loId: lo.id, instanceId: created.id };
  }

  async setUpAccount(accountId: number, token: string | undefined): Promise<AccountWorld> {
    const base = `/v1/accounts/${accountId}`;
    const users: number[] = [];
    for (let index = 0; index < this.options.learners; index++) {
      const user = await this.must<{ id: number }>('POST', `${base}/users`, {
        name: `Learner ${index + 1}`,
        email: `learner${index + 1}.${accountId}.${this.runTag}@example.com`,
      });
      users.push(user.id);
      this.progress('setting up');
    }
    const limited = await this.createCourse(base, 'Safety basics', { seatLimit: 5, waitlistLimit: 2 });
    const open = await this.createCourse(base, 'Data literacy', {});
    const selfPaced = await this.createCourse(base, 'Compliance refresher', { selfPaced: true });
    const small = await this.createCourse(base, 'Leadership lab', { seatLimit: 3, waitlistLimit: 1 });
    const migratedCourse = await this.createCourse(base, 'Migrated onboarding', {}, 'migration');
    const path = await this.must<{ id: string }>('POST', `${base}/learning-objects`, {
      loType: 'learningProgram',
      name: 'New manager path',
      children: [open.loId, selfPaced.loId],
    });
    await this.must('POST', `${base}/learning-objects/${path.id}/publish`);
    const pathInstance = await this.must<{ id: string }>('POST', `${base}/learning-objects/${path.id}/instances`, {
      name: 'New manager path — cohort',
    });
    const certification = await this.must<{ id: string }>('POST', `${base}/learning-objects`, {
      loType: 'certification',
      name: 'Certified trainer',
      children: [small.loId],
    });
    await this.must('POST', `${base}/learning-objects/${certification.id}/publish`);
    const certificationInstance = await this.must<{ id: string }>('POST', `${base}/learning-objects/${certification.id}/instances`, {
      name: 'Certified trainer — 2026',
    });
    await this.must('POST', `${base}/learning-objects`, { loType: 'jobAid', name: 'Checklist' });
    return {
      accountId,
      ...(token ? { token } : {}),
      users,
      courses: [
        { ...limited, limited: true },
        { ...open, limited: false },
        { ...small, limited: true },
      ],
      migratedCourse,
      selfPacedCourse: selfPaced.loId,
      extraSelfPacedInstances: [],
      pathInstance: pathInstance.id,
      certificationInstance: certificationInstance.id,
      childInstances: [open.instanceId, selfPaced.instanceId],
      enrollments: new Map(),
      retiredCourses: 0,
    };
  }

  remember(world: AccountWorld, body: EnrollmentModel | undefined): void {
    if (body) world.enrollments.set(key(body.userId, body.loInstanceId), body);
  }

  enrolled(world: AccountWorld): EnrollmentModel[] {
    return [...world.enrollments.values()].filter((enrollment) => enrollment.state === 'ENROLLED');
  }

  /** One random action of the account, weighted towards what learners do most. */
  async step(world: AccountWorld): Promise<void> {
    const base = `/v1/accounts/${world.accountId}`;
    const roll = this.random();
    const actor = this.pick(actorChoices) ?? 'learner';
    const enrolled = this.enrolled(world);
    if (roll < 0.3 || enrolled.length === 0) {
      const instances = [
        ...world.courses.map((course) => course.instanceId),
        world.migratedCourse.instanceId,
        world.pathInstance,
        world.certificationInstance,
      ];
      const userId = this.pick(world.users) ?? 0;
      const loInstanceId = this.pick(instances) ?? '';
      this.remember(world, await this.act<EnrollmentModel>('enroll', 'POST', `${base}/enrollments`, { userId, loInstanceId, actor }));
    } else if (roll < 0.55) {
      const target = this.pick(enrolled);
      if (!target) return;
      const progressPercent = Math.min(99, target.progressPercent + 10 + Math.floor(this.random() * 30));
      this.remember(
        world,
        await this.act<EnrollmentModel>('progress', 'POST', `${base}/enrollments/progress`, {
          userId: target.userId,
          loInstanceId: target.loInstanceId,
          actor: 'learner',
          progressPercent,
        }),
      );
    } else if (roll < 0.67) {
      const target = this.pick(enrolled);
      if (!target) return;
      this.remember(
        world,
        await this.act<EnrollmentModel>('complete', 'POST', `${base}/enrollments/complete`, {
          userId: target.userId,
          loInstanceId: target.loInstanceId,
          actor,
          hasPassed: this.random() < 0.8,
        }),
      );
    } else if (roll < 0.75) {
      const target = this.pick(
        [...world.enrollments.values()].filter((enrollment) => enrollment.state === 'ENROLLED' || enrollment.state === 'WAITLISTED'),
      );
      if (!target) return;
      this.remember(
        world,
        await this.act<EnrollmentModel>('unenroll', 'POST', `${base}/enrollments/unenroll`, {
          userId: target.userId,
          loInstanceId: target.loInstanceId,
          actor,
        }),
      );
    } else if (roll < 0.8) {
      // Work inside the learning path: progress or completion of a child course (events for the path only).
      const onPath = enrolled.filter((enrollment) => enrollment.loInstanceId === world.pathInstance);
      const learner = this.pick(onPath);
      const child = this.pick(world.childInstances);
      if (!learner || !child) return;
      const body = { userId: learner.userId, loInstanceId: child, actor: 'learner' as const };
      if (this.random() < 0.5) await this.act('child progress', 'POST', `${base}/enrollments/progress`, { ...body, progressPercent: 50 });
      else await this.act('child complete', 'POST', `${base}/enrollments/complete`, { ...body, hasPassed: true });
    } else if (roll < 0.87) {
      const course = this.random() < 0.8 ? this.pick(world.courses)?.loId : world.migratedCourse.loId;
      if (!course) return;
      const via = course === world.migratedCourse.loId ? 'migration' : 'ui';
      await this.act('modify learning object', 'PATCH', `${base}/learning-objects/${course}`, {
        description: `Revised ${Math.floor(this.random() * 1000)}`,
        via,
      });
    } else if (roll < 0.93) {
      const course = this.pick(world.courses.filter((candidate) => candidate.limited));
      if (!course) return;
      await this.act('change seats', 'PATCH', `${base}/learning-objects/${course.loId}/instances/${course.instanceId}`, {
        seatLimit: 3 + Math.floor(this.random() * 6),
      });
    } else if (roll < 0.97) {
      const extra = world.extraSelfPacedInstances.pop();
      if (extra) await this.act('delete instance', 'DELETE', `${base}/learning-objects/${world.selfPacedCourse}/instances/${extra}`);
      else {
        const created = await this.act<{ id: string }>(
          'create instance',
          'POST',
          `${base}/learning-objects/${world.selfPacedCourse}/instances`,
          { name: 'Extra self-paced run', selfPaced: true },
        );
        if (created) world.extraSelfPacedInstances.push(created.id);
      }
    } else {
      // A short-lived course: drafted, published, run, then retired (its instance retires with it) or deleted.
      world.retiredCourses++;
      const created = await this.act<{ id: string }>('create learning object', 'POST', `${base}/learning-objects`, {
        loType: 'course',
        name: `Pop-up course ${world.retiredCourses}`,
      });
      if (!created) return;
      await this.act('publish learning object', 'POST', `${base}/learning-objects/${created.id}/publish`);
      await this.act('create instance', 'POST', `${base}/learning-objects/${created.id}/instances`, { name: 'Pop-up run' });
      if (this.random() < 0.5) await this.act('retire learning object', 'POST', `${base}/learning-objects/${created.id}/retire`);
      else await this.act('delete learning object', 'DELETE', `${base}/learning-objects/${created.id}`);
    }
  }
}

async function createAccounts(client: PlatformClient, count: number): Promise<{ id: number; token: string | undefined }[]> {
  const accounts: { id: number; token: string | undefined }[] = [];
  for (let index = 0; index < count; index++) {
    const created = await client.expect<{ id: number; token: string }>('POST', '/v1/accounts', {
      name: `Simulated academy ${index + 1}`,
      contactEmail: `admin${index + 1}@example.com`,
    });
    accounts.push({ id: created.id, token: created.token });
  }
  return accounts;
}

/** Runs the workload to the end of its duration (or action budget) and reports what it did. */
export async function runWorkload(client: PlatformClient, options: WorkloadOptions): Promise<WorkloadReport> {
  const workload = new Workload(client, options);
  const worlds: AccountWorld[] = (options.worlds ?? []).map(loadWorld);
  if (worlds.length === 0) {
    const accounts = options.accountIds
      ? options.accountIds.map((id) => ({ id, token: undefined }))
      : await createAccounts(client, options.accounts);
    for (const account of accounts) {
      await options.onAccountReady?.(account.id, account.token);
      worlds.push(await workload.setUpAccount(account.id, account.token));
    }
  }
  workload.report.accountIds = worlds.map((world) => world.accountId);
  const saveEvery = 20;
  options.onWorldsChanged?.(worlds.map(saveWorld));
  const started = Date.now();
  workload.started = started;
  const deadline = started + options.durationMs;
  const interval = (1000 * Math.max(1, worlds.length)) / Math.max(0.001, options.rate);
  const budget = options.maxActions ?? Number.POSITIVE_INFINITY;
  await Promise.all(
    worlds.map(async (world, index) => {
      let next = started + (interval * index) / worlds.length;
      while (Date.now() < deadline && workload.report.actions < budget && !options.signal?.aborted) {
        const wait = next - Date.now();
        if (wait > 0) await sleep(wait, undefined, options.signal ? { signal: options.signal } : {}).catch(() => undefined);
        if (Date.now() >= deadline || options.signal?.aborted) break;
        await workload.step(world);
        next += interval;
        if (workload.report.actions % saveEvery === 0) options.onWorldsChanged?.(worlds.map(saveWorld));
      }
    }),
  );
  options.onWorldsChanged?.(worlds.map(saveWorld));
  workload.report.elapsedMs = Date.now() - started;
  workload.report.actionsPerSecond = Math.round((workload.report.actions / Math.max(1, workload.report.elapsedMs)) * 1000 * 10) / 10;
  return workload.report;
}
