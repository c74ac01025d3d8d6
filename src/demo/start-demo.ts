// `learnhook demo`: the platform, its dispatcher and dashboard, a mirror subscribed to every event with a signature
// secret, and a gentle seeded workload, in one process; what it set up is kept under the data folder so a second start
// resumes (same account, same webhook, same mirror database) instead of setting up again.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { eventNames } from '../catalog/index.ts';
import { ConfigError, type Settings } from '../config.ts';
import { type RunningMirror, startMirror } from '../mirror/start-mirror.ts';
import { type RunningProducer, startProducer } from '../server.ts';
import { PlatformClient } from '../simulate/platform-client.ts';
import { runWorkload, type SavedWorld } from '../simulate/run-workload.ts';

export interface DemoOptions {
  /** The mirror's port (0: any free port). */
  mirrorPort: number;
  /** Platform actions per second of the workload; 0 runs no workload. */
  rate: number;
  learners: number;
  seed: number;
}

/** What a demo set up, kept in `<data folder>/demo.json` (tokens and the secret: readable by its owner only). */
interface DemoState {
  adminToken: string;
  accountId?: number;
  accountToken?: string;
  webhookId?: string;
  secret?: string;
  worlds?: SavedWorld[];
}

export interface RunningDemo {
  producer: RunningProducer;
  mirror: RunningMirror;
  accountId: number;
  webhookId: string;
  /** The dashboard with a one-time sign-in code. */
  signInUrl: string;
  docsUrl: string;
  mirrorDbPath: string;
  /** Whether this start continued an earlier demo. */
  resumed: boolean;
  stop(): Promise<void>;
}

const demoAccountName = 'Demo Academy';

function readState(file: string): DemoState | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as DemoState;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${file} is not readable (${(error as Error).message}); delete it to set the demo up afresh`);
  }
}

function writeState(file: string, state: DemoState): void {
  // Write then rename: a Ctrl-C in the middle leaves the old file, never half of one.
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 2), { mode: 0o600 });
  fs.renameSync(`${file}.tmp`, file);
}

/** Whether a process with this id is running (signal 0 checks without signalling). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One demo per data folder: two would share its databases and both drive the same account. */
function lockDataDir(dataDir: string): () => void {
  const file = path.join(dataDir, 'demo.pid');
  try {
    const other = Number(fs.readFileSync(file, 'utf8'));
    if (other && other !== process.pid && running(other))
      throw new ConfigError(`a demo is already running from ${dataDir} (process ${other}); stop it first, or give another --data-dir`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  fs.writeFileSync(file, String(process.pid));
  return () => fs.rmSync(file, { force: true });
}

/** A free TCP port on the host, when the mirror's port is 0: the webhook's URL needs it before the mirror starts. */
async function freePort(host: string): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host, resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The loopback address the mirror is reached at: the demo's targets are IP literals, so the trusted origin is exact. */
function loopbackOf(host: string): string {
  return host === '0.0.0.0' || host === 'localhost' || host === '' ? '127.0.0.1' : host;
}

/** Sets up (or finds again) the demo's account and its mirror webhook through the API, as a user would. */
async function ensureAccountAndWebhook(
  client: PlatformClient,
  state: DemoState,
  mirrorUrl: string,
): Promise<{ accountId: number; accountToken: string; webhookId: string; secret: string; resumed: boolean }> {
  let resumed = false;
  if (state.accountId !== undefined) {
    const found = await client.call('GET', `/v1/accounts/${state.accountId}`);
    if (found.status === 200) resumed = true;
    else {
      // The platform's database was removed but not demo.json: start over.
      delete state.accountId;
      delete state.webhookId;
      delete state.worlds;
    }
  }
  if (state.accountId === undefined || !state.accountToken) {
    const account = await client.expect<{ id: number; token: string }>('POST', '/v1/accounts', {
      name: demoAccountName,
      contactEmail: 'ops@demo.example',
    });
    state.accountId = account.id;
    state.accountToken = account.token;
    delete state.webhookId;
    delete state.worlds;
  }
  const base = `/v1/accounts/${state.accountId}/webhooks`;
  if (state.webhookId && state.secret) {
    const webhook = await client.call<{ url: string; auth: { type: string } }>('GET', `${base}/${state.webhookId}`);
    if (webhook.status === 200) {
      const path = `${base}/${state.webhookId}`;
      // The mirror may listen elsewhere this time (another --mirror-port): follow it.
      if (webhook.body.url !== mirrorUrl) await client.expect('PATCH', path, { url: mirrorUrl });
      // A secret rotated (or auth changed) in the dashboard since is not in demo.json: take a fresh one each start, so
      // the mirror always holds the secret the platform signs with.
      const fresh =
        webhook.body.auth.type === 'signature'
          ? await client.expect<{ secret: string }>('POST', `${path}/rotate-secret`)
          : await client.expect<{ secret: string }>('PATCH', path, { auth: { type: 'signature' } });
      state.secret = fresh.secret;
      return { accountId: state.accountId, accountToken: state.accountToken, webhookId: state.webhookId, secret: fresh.secret, resumed };
    }
    // Deleted from the dashboard: register it again (a new secret; the mirror is started with it).
  }
  // Paused until the mirror runs with its secret, so the first attempt is not a failure.
  const webhook = await client.expect<{ id: string; secret: string }>('POST', base, {
    name: 'Demo mirror',
    description: 'The demo’s own mirror (learnhook mirror), subscribed to every event with a signature secret.',
    url: mirrorUrl,
    events: [...eventNames],
    auth: { type: 'signature' },
    active: false,
  });
  state.webhookId = webhook.id;
  state.secret = webhook.secret;
  return { accountId: state.accountId, accountToken: state.accountToken, webhookId: webhook.id, secret: webhook.secret, resumed };
}

export async function startDemo(settings: Settings, options: DemoOptions): Promise<RunningDemo> {
  fs.mkdirSync(settings.dataDir, { recursive: true });
  const unlock = lockDataDir(settings.dataDir);
  const stateFile = path.join(settings.dataDir, 'demo.json');
  const state: DemoState = readState(stateFile) ?? { adminToken: '' };
  state.adminToken = settings.adminToken || state.adminToken || `lh_admin_${randomBytes(24).toString('base64url')}`;
  const loopback = loopbackOf(settings.host);
  const mirrorPort = options.mirrorPort || (await freePort(loopback));
  const mirrorOrigin = `http://${loopback}:${mirrorPort}`;
  let producer: RunningProducer;
  try {
    producer = await startProducer({ ...settings, adminToken: state.adminToken, trustedTargets: [mirrorOrigin] });
  } catch (error) {
    unlock();
    throw error;
  }
  const apiUrl = producer.url ?? '';
  const client = new PlatformClient(apiUrl, state.adminToken, 4);
  let mirror: RunningMirror | undefined;
  const abort = new AbortController();
  let workload: Promise<unknown> = Promise.resolve();
  // The workload first (it calls the API), then the dispatcher (so no delivery fails against a mirror going down),
  // then the mirror.
  const stopAll = async () => {
    abort.abort();
    await workload;
    await producer.stop();
    await mirror?.stop();
    await client.close();
    unlock();
  };
  try {
    const setup = await ensureAccountAndWebhook(client, state, `${mirrorOrigin}/webhook`);
    writeState(stateFile, state);

    const mirrorDbPath = path.join(settings.dataDir, 'mirror.db');
    mirror = await startMirror({
      ...settings,
      port: mirrorPort,
      host: settings.host,
      db: `sqlite:${mirrorDbPath}`,
      mirrorSecret: setup.secret,
      mirrorBasicAuth: '',
      api: apiUrl,
      apiToken: setup.accountToken,
    });
    const webhookPath = `/v1/accounts/${setup.accountId}/webhooks/${setup.webhookId}`;
    await client.expect('PATCH', webhookPath, { active: true });
    // A batch that failed while the demo was stopping is sent now, not at its scheduled retry.
    await client.expect('POST', `${webhookPath}/retry`);

    if (options.rate > 0) {
      workload = runWorkload(client, {
        accounts: 0,
        accountIds: [setup.accountId],
        learners: options.learners,
        rate: options.rate,
        durationMs: 365 * 24 * 3600 * 1000,
        seed: options.seed,
        signal: abort.signal,
        ...(state.worlds ? { worlds: state.worlds } : {}),
        onWorldsChanged: (worlds) => {
          state.worlds = worlds;
          writeState(stateFile, state);
        },
      }).catch((error: unknown) => {
        if (!abort.signal.aborted) producer.context.logger.error({ err: error }, 'the demo workload stopped');
      });
    }

    const link = await client.expect<{ path: string }>('POST', '/v1/sign-in-links');
    return {
      producer,
      mirror,
      accountId: setup.accountId,
      webhookId: setup.webhookId,
      signInUrl: `${apiUrl}${link.path}`,
      docsUrl: `${apiUrl}/docs`,
      mirrorDbPath,
      resumed: setup.resumed,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
