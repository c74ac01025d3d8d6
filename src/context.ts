// What the producer's parts share in one process: settings, the database, the clock, the logger and in-process signals.
import { EventEmitter } from 'node:events';
import pino, { type Logger } from 'pino';
import { type ClusterSession, LocalSession } from './cluster/cluster-session.ts';
import type { Settings } from './config.ts';
import { AccountWrites } from './platform/account-writes.ts';
import { SecretBox } from './secrets/secret-box.ts';
import { loadSecretKey } from './secrets/secret-key.ts';
import type { Database } from './store/database.ts';
import type { ProducerSchema } from './store/schema.ts';

/** Signals between the parts of one process; `relayedProducerSignals` go to the other processes too (LISTEN/NOTIFY). */
export interface ProducerSignals {
  /** New events were committed to these accounts' logs: the dispatcher should look at their webhooks. */
  'events-appended': [accountIds: readonly number[]];
  /** A webhook was created, changed, re-enabled or asked to replay. */
  'webhook-changed': [webhookId: string];
  /**
   * The dispatcher finished a look for due webhooks (and started the runs it found). Tests wait on this and the next
   * signal instead of sleeping, as River's test signals do; nothing in the product listens to them.
   */
  'dispatcher-scanned': [];
  /** A webhook's delivery run ended and its lease was given back: its cursor, state and failure are written. */
  'webhook-released': [webhookId: string];
}

export interface ProducerContext {
  settings: Settings;
  database: Database<ProducerSchema>;
  logger: Logger;
  /** Seals and opens webhook passwords and signing secrets with the secret key. */
  secrets: SecretBox;
  /** Current time in epoch milliseconds; tests pass a controllable clock. */
  now(): number;
  signals: EventEmitter<ProducerSignals>;
  /** This process's membership of the cluster: its lease owner name, liveness, wake-ups and leads. */
  cluster: ClusterSession;
  /** The group commit every write that locks an account goes through (actions, raw publishing). */
  accountWrites: AccountWrites;
}

export function createLogger(level: string, name = 'learnhook'): Logger {
  return pino({ name, level });
}

export function createProducerContext(
  settings: Settings,
  database: Database<ProducerSchema>,
  options: { logger?: Logger; now?: () => number; secrets?: SecretBox; cluster?: ClusterSession } = {},
): ProducerContext {
  const signals = new EventEmitter<ProducerSignals>();
  return {
    settings,
    database,
    logger: options.logger ?? createLogger(settings.logLevel),
    secrets: options.secrets ?? new SecretBox(loadSecretKey(settings)),
    now: options.now ?? Date.now,
    signals,
    // SQLite has one writer; on PostgreSQL a second group runs while the first waits on its flush.
    accountWrites: new AccountWrites(database, signals, database.concurrentWrites ? 2 : 1),
    cluster: options.cluster ?? new LocalSession(),
  };
}
