// What the mirror's parts share in one process: settings, its own database, the clock, the logger and wake-ups.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Settings } from '../config.ts';
import { createLogger } from '../context.ts';
import type { Database } from '../store/database.ts';
import type { MirrorSchema } from './schema.ts';

export interface MirrorSignals {
  /** A batch was stored in the inbox: the projector should run. */
  'inbox-stored': [];
  /** The projector queued ids for enrichment. */
  'enrichment-queued': [];
  /**
   * A projector took an account (true) or is about to commit what it applied (false, the account still held): both
   * inside the transaction that holds it, so two projectors' holds of one account never overlap between these signals.
   */
  'account-held': [accountId: number, held: boolean];
  /** A delivery reached the receiver: the projector gives way while deliveries arrive. */
  'delivery-received': [];
}

export interface MirrorContext {
  settings: Settings;
  database: Database<MirrorSchema>;
  logger: Logger;
  /** Current time in epoch milliseconds; tests pass a controllable clock. */
  now(): number;
  signals: EventEmitter<MirrorSignals>;
}

export function createMirrorContext(
  settings: Settings,
  database: Database<MirrorSchema>,
  options: { logger?: Logger; now?: () => number } = {},
): MirrorContext {
  return {
    settings,
    database,
    logger: options.logger ?? createLogger(settings.logLevel, 'learnhook-mirror'),
    now: options.now ?? Date.now,
    signals: new EventEmitter<MirrorSignals>(),
  };
}
