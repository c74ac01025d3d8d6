// Starts the mirror in this process: its own database and migrations, the receiver, the projector and the enricher.
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildMirrorApp } from '../api/mirror-app.ts';
import { registerRuleRoutes } from '../api/mirror-rules.ts';
import { openClusterSession } from '../cluster/cluster-session.ts';
import { plainSignal, relaySignals } from '../cluster/relay-signals.ts';
import type { Settings } from '../config.ts';
import type { RunningService } from '../server.ts';
import { openDatabase } from '../store/database.ts';
import { migrate } from '../store/migrate.ts';
import { hasCredentials, parseCredentials } from './credentials.ts';
import { type RunningEnricher, startEnricher } from './enricher.ts';
import { createMirrorContext, type MirrorContext } from './mirror-context.ts';
import { createMirrorMetrics } from './mirror-metrics.ts';
import { checkNotifySettings } from './notify/check-settings.ts';
import { checkStoredChannels } from './notify/check-stored-channels.ts';
import { type RunningNotifier, startNotifier } from './notify/send-notifications.ts';
import { type RunningProjector, startProjector } from './projector.ts';
import type { MirrorSchema } from './schema.ts';

export interface RunningMirror {
  context: MirrorContext;
  app: FastifyInstance;
  /** Base URL; deliveries go to `${url}/webhook`. */
  url: string;
  projector: RunningProjector;
  /** Running when a read API is configured (`--api`). */
  enricher?: RunningEnricher;
  /** Sends the notifications the rules record (docs/notifications.md). */
  notifier: RunningNotifier;
  stop(): Promise<void>;
}

/** The mirror's database URL: the given one, or `mirror.db` under the data folder. */
export function mirrorDatabaseUrl(settings: Settings): string {
  return settings.db || `sqlite:${path.join(settings.dataDir, 'mirror.db')}`;
}

export async function startMirror(settings: Settings, options: { now?: () => number; logger?: Logger } = {}): Promise<RunningMirror> {
  checkNotifySettings(settings);
  // Wrong credential settings stop the start before anything is opened.
  const credentials = parseCredentials(settings.mirrorSecret, settings.mirrorBasicAuth);
  // Every acknowledgement commits a ~2 KB body. On SQLite a worker thread checkpoints the WAL, so no acknowledgement
  // waits for a checkpoint's copy and sync; should it fail, the connection checkpoints by itself every 10,000 pages
  // (SQLite's default of 1000 was half the cost of a commit in the receiver's profile; the WAL then grows to ~40 MB).
  const url = mirrorDatabaseUrl(settings);
  const database = await openDatabase<MirrorSchema>(url, {
    poolSize: settings.dbPool,
    walAutocheckpointPages: 10_000,
    checkpointInBackground: true,
  });
  await migrate(database as Parameters<typeof migrate>[0], 'mirror');

  const context = createMirrorContext(settings, database, {
    ...(options.now ? { now: options.now } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  if (!hasCredentials(credentials)) {
    context.logger.warn('no --secret and no --basic-auth: the mirror accepts deliveries from anyone, for any account');
  }
  // Several mirrors on one PostgreSQL: a delivery one of them stores wakes the projectors and enrichers of all.
  const relayed = [plainSignal('inbox-stored'), plainSignal('enrichment-queued')];
  let cluster: Awaited<ReturnType<typeof openClusterSession>>;
  try {
    cluster = await openClusterSession(database, { url, logger: context.logger, channels: relayed.map((signal) => signal.name) });
  } catch (error) {
    await database.close();
    throw error;
  }
  const stopRelay = relaySignals(context.signals, cluster, relayed);
  const leave = async () => {
    stopRelay();
    await cluster.close();
    await database.close();
  };
  const projector = startProjector(context);
  const notifier = startNotifier(context);
  const services: RunningService[] = [projector, notifier];
  try {
    const enricher = settings.api ? startEnricher(context) : undefined;
    if (enricher) services.push(enricher);
    const app = buildMirrorApp(context, createMirrorMetrics(context));
    registerRuleRoutes(app, context, notifier.channels);
    // Not awaited: a slow or dead channel must not delay receiving; it is logged and shown as failing in /status.
    void checkStoredChannels(context, notifier.channels);
    const address = await app.listen({ port: settings.port, host: settings.host });
    return {
      context,
      app,
      url: address.replace('[::1]', 'localhost'),
      projector,
      notifier,
      ...(enricher ? { enricher } : {}),
      async stop() {
        await app.close();
        for (const service of services.reverse()) await service.stop();
        await leave();
      },
    };
  } catch (error) {
    for (const service of services.reverse()) await service.stop();
    await leave();
    throw error;
  }
}
