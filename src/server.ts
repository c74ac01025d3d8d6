// Starts the producer in this process: database, migrations, HTTP API and the background services.
import path from 'node:path';
import { buildApp, type LearnhookApp } from './api/app.ts';
import { type ClusterSession, openClusterSession } from './cluster/cluster-session.ts';
import { idListSignal, idSignal, relaySignals } from './cluster/relay-signals.ts';
import type { Settings } from './config.ts';
import { createLogger, createProducerContext, type ProducerContext } from './context.ts';
import { startDelivery } from './delivery/delivery-service.ts';
import { scheduledEventRelease } from './platform/release-scheduled-events.ts';
import { newToken } from './secrets/account-token.ts';
import { prepareSecrets } from './secrets/prepare-secrets.ts';
import { SecretBox } from './secrets/secret-box.ts';
import { loadSecretKey } from './secrets/secret-key.ts';
import { openDatabase } from './store/database.ts';
import { migrate } from './store/migrate.ts';
import type { ProducerSchema } from './store/schema.ts';

/** A background part of the producer (dispatcher, scheduled-event release, retention…). */
export interface RunningService {
  name: string;
  stop(): Promise<void>;
}

export type ProducerService = (context: ProducerContext) => Promise<RunningService> | RunningService;

export interface StartOptions {
  /** Serve HTTP (false for `learnhook worker`). */
  http?: boolean;
  /** Deliver webhooks; on unless false (`learnhook serve --no-dispatch`). */
  dispatch?: boolean;
  /** Clock for tests. */
  now?: () => number;
}

export interface RunningProducer {
  context: ProducerContext;
  app?: LearnhookApp;
  /** Base URL of the HTTP API, when serving. */
  url?: string;
  stop(): Promise<void>;
}

/** The database URL: the given one, or a SQLite file under the data folder. */
export function databaseUrl(settings: Settings, file = 'learnhook.db'): string {
  return settings.db || `sqlite:${path.join(settings.dataDir, file)}`;
}

/** Services that run beside the API in every producer process; `dispatch` ones only when delivering. */
function servicesFor(options: StartOptions): ProducerService[] {
  const services: ProducerService[] = [scheduledEventRelease];
  if (options.dispatch !== false) services.push(startDelivery);
  return services;
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
  const database = await openDatabase<ProducerSchema>(url, { poolSize: effective.dbPool, checkpointInBackground: true });
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
    async stop() {
      await app?.close();
      for (const service of services.reverse()) await service.stop();
      await closeAll(context, stopRelay);
    },
  };
}
