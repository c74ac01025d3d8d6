// Starts the producer in this process: database, migrations, HTTP API and the background services.
import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { LearnhookApp } from './api/app.ts';
import { type ClusterSession, openClusterSession } from './cluster/cluster-session.ts';
import { idListSignal, idSignal, relaySignals } from './cluster/relay-signals.ts';
import { ConfigError, type Settings } from './config.ts';
import { createLogger, createProducerContext, type ProducerContext } from './context.ts';
import { startDelivery } from './delivery/delivery-service.ts';
import { startDeliveryThread } from './delivery/delivery-thread.ts';
import { scheduledEventRelease } from './platform/release-scheduled-events.ts';
import { newToken } from './secrets/account-token.ts';
import { prepareSecrets } from './secrets/prepare-secrets.ts';
import { SecretBox } from './secrets/secret-box.ts';
import { loadSecretKey } from './secrets/secret-key.ts';
import { dialectOf, openDatabase, sqliteFile } from './store/database.ts';
import { migrate } from './store/migrate.ts';
import type { ProducerSchema } from './store/schema.ts';

/** A background part of the producer (dispatcher, scheduled-event release, retention…). */
export interface RunningService {
  name: string;
  stop(): Promise<void>;
  /** Resolves with the reason if the service stops on its own (the delivery thread); the process should then stop. */
  failed?: Promise<Error>;
}

export type ProducerService = (context: ProducerContext) => Promise<RunningService> | RunningService;

export interface StartOptions {
  /** Serve HTTP (false for `learnhook worker`). */
  http?: boolean;
  /**
   * Deliver webhooks: on this thread (true, the default), on a thread of its own ('thread', see `deliversInThread`), or
   * not at all (false: `learnhook serve --no-dispatch`).
   */
  dispatch?: boolean | 'thread';
  /** Run only the delivery service, on a connection of its own, beside another thread's API (the delivery thread). */
  deliveryOnly?: boolean;
  /** The API thread's turns at writing its SQLite file, shared with the delivery thread (`store/write-turns.ts`). */
  writeTurns?: SharedArrayBuffer;
  /** Clock for tests. */
  now?: () => number;
}

export interface RunningProducer {
  context: ProducerContext;
  app?: LearnhookApp;
  /** Base URL of the HTTP API, when serving. */
  url?: string;
  /** Whether delivery runs on a thread of its own. */
  deliveryThread: boolean;
  /** Resolves with the reason if a part stops on its own (the delivery thread failed): stop the process then. */
  failed: Promise<Error>;
  stop(): Promise<void>;
}

/** The database URL: the given one, or a SQLite file under the data folder. */
export function databaseUrl(settings: Settings, file = 'learnhook.db'): string {
  return settings.db || `sqlite:${path.join(settings.dataDir, file)}`;
}

/** Services that run beside the API in every producer process; `dispatch` ones only when delivering. */
function servicesFor(options: StartOptions): ProducerService[] {
  if (options.deliveryOnly) return [startDelivery];
  const services: ProducerService[] = [scheduledEventRelease];
  if (options.dispatch === 'thread') services.push(startDeliveryThread);
  else if (options.dispatch !== false) services.push(startDelivery);
  return services;
}

/**
 * Whether `serve` delivers on a thread of its own. `auto` turns it on where it was measured to pay (docs/benchmarks.md):
 * a SQLite file on a machine with two cores or more, where the API and delivery would otherwise share one core while
 * the database needs none of its own. On PostgreSQL the database's own processes take the second core.
 */
export function deliversInThread(settings: Settings, cores = availableParallelism()): boolean {
  const url = databaseUrl(settings);
  const inMemory = dialectOf(url) === 'sqlite' && sqliteFile(url) === ':memory:';
  if (settings.deliveryThread === 'on' && inMemory)
    throw new ConfigError(
      '--delivery-thread on needs a database another thread can open: a SQLite database in memory belongs to one connection',
    );
  if (settings.deliveryThread !== 'auto') return settings.deliveryThread === 'on';
  return dialectOf(url) === 'sqlite' && !inMemory && cores >= 2;
}

/** Signals every producer process sends to the others on its database, so their dispatchers and live views wake. */
const relayedProducerSignals = [idListSignal('events-appended'), idSignal('webhook-changed')];

/** Leaves the cluster (giving back its leads and liveness) and closes the database, once the services have stopped. */
async function closeAll(context: ProducerContext, stopRelay: () => void): Promise<void> {
  stopRelay();
  await context.cluster.close();
  await context.database.close();
}

export async function startProducer(settings: Settings, options: StartOptions = {}): Promise<RunningProducer> {
  const effective = settings.adminToken ? settings : { ...settings, adminToken: newToken('lh_admin') };
  // The key first: a malformed key or an unreadable key file stops the start before the database is touched.
  const secrets = new SecretBox(loadSecretKey(effective));
  const url = databaseUrl(effective);
  // The delivery thread leaves the WAL's checkpoints to the thread that serves the API.
  const database = await openDatabase<ProducerSchema>(url, {
    poolSize: effective.dbPool,
    checkpointInBackground: !options.deliveryOnly,
    writeTurns: options.writeTurns,
  });
  await migrate(database as Parameters<typeof migrate>[0], 'producer');
  const services: RunningService[] = [];
  let app: LearnhookApp | undefined;
  let address: string | undefined;
  let context: ProducerContext;
  let stopRelay = () => {};
  let cluster: ClusterSession | undefined;
  try {
    const logger = createLogger(effective.logLevel);
    cluster = await openClusterSession(database, { url, logger, channels: relayedProducerSignals.map((signal) => signal.name) });
    context = createProducerContext(effective, database, { logger, secrets, cluster, ...(options.now ? { now: options.now } : {}) });
    stopRelay = relaySignals(context.signals, cluster, relayedProducerSignals);
    await prepareSecrets(context);
  } catch (error) {
    stopRelay();
    await cluster?.close();
    await database.close();
    throw error;
  }
  try {
    for (const service of servicesFor(options)) services.push(await service(context));
    if (options.http !== false) {
      // Loaded only to serve HTTP: a worker and the delivery thread never hold the API's modules in memory.
      const { buildApp } = await import('./api/app.ts');
      app = await buildApp(context);
      const listening = await app.listen({ port: effective.port, host: effective.host });
      address = listening.replace('[::1]', 'localhost');
    }
  } catch (error) {
    for (const service of services.reverse()) await service.stop();
    await closeAll(context, stopRelay);
    throw error;
  }
  return {
    context,
    app,
    url: address,
    deliveryThread: options.dispatch === 'thread',
    failed: Promise.race(services.flatMap((service) => (service.failed ? [service.failed] : []))),
    async stop() {
      await app?.close();
      for (const service of services.reverse()) await service.stop();
      await closeAll(context, stopRelay);
    },
  };
}
