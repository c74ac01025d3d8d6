// The background loop that applies inbox rows in receipt order, several of one account per transaction, and raises alerts.
import type { Selectable, Transaction } from 'kysely';
import { createFlowLog } from '../flow-log.ts';
import type { RunningService } from '../server.ts';
import { isTransientDatabaseError } from '../store/transient-errors.ts';
import type { MirrorContext } from './mirror-context.ts';
import { type ProjectionOutcome, projectBatch } from './project-batch.ts';
import { type ProjectionFailure, recordProjectionFailure } from './record-projection-failure.ts';
import type { InboxTable, MirrorSchema } from './schema.ts';
import { sendAlert } from './send-alert.ts';

export interface RunningProjector extends RunningService {
  /** Applies every pending inbox row now; resolves with how many rows it applied. */
  drain(): Promise<number>;
}

/** Per database: keys of LO, instance and user rows known to exist, filled only after their transaction committed. */
const existingRows = new WeakMap<object, Set<string>>();

/** Accounts tried in one claim before the projector waits for the next wake-up: the others are being applied elsewhere. */
const accountsTriedPerClaim = 20;

/**
 * The account with the oldest pending inbox row that no other projector is applying; it is held (a transaction-level
 * lock, never waited for) until the caller's transaction ends, so one projector of the cluster applies a given
 * account at a time, its rows in receipt order.
 */
async function claimAccount(trx: Transaction<MirrorSchema>, context: MirrorContext): Promise<number | undefined> {
  const busy: number[] = [];
  while (busy.length < accountsTriedPerClaim) {
    let pending = trx
      .selectFrom('inbox')
      .select('account_id')
      .where('processed_at', 'is', null)
      .where('failed_at', 'is', null)
      .orderBy('id')
      .limit(1);
    if (busy.length > 0) pending = pending.where('account_id', 'not in', busy);
    const candidate = await pending.executeTakeFirst();
    if (!candidate) return undefined;
    if (await context.database.tryLockName(trx, `learnhook_mirror_account_${candidate.account_id}`)) return candidate.account_id;
    busy.push(candidate.account_id);
  }
  return undefined;
}

/**
 * The account's oldest pending inbox row, read after its lock was taken, so it reflects every row another projector
 * applied and committed before.
 */
function nextRow(trx: Transaction<MirrorSchema>, accountId: number): Promise<Selectable<InboxTable> | undefined> {
  return trx
    .selectFrom('inbox')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('processed_at', 'is', null)
    .where('failed_at', 'is', null)
    .orderBy('id')
    .limit(1)
    .executeTakeFirst();
}

/**
 * Inbox rows of one account applied in one transaction: the claim, BEGIN and COMMIT are paid once for them. On SQLite,
 * whose statements run on the event loop the receiver shares, a transaction also ends after 5 ms of work.
 */
const rowsPerTransaction = 16;
const sqliteTransactionMs = 5;

export type ProjectedRows = ProjectionOutcome & {
  accountId: number;
  /** How many inbox rows the transaction applied. */
  rows: number;
  /** How long the oldest of them waited in the inbox. */
  waitedMs: number;
};

function addOutcome(total: ProjectedRows | undefined, outcome: ProjectionOutcome, accountId: number, waitedMs: number): ProjectedRows {
  if (!total) return { ...outcome, accountId, rows: 1, waitedMs };
  return {
    applied: total.applied + outcome.applied,
    duplicates: total.duplicates + outcome.duplicates,
    ignored: total.ignored + outcome.ignored,
    outOfOrder: total.outOfOrder + outcome.outOfOrder,
    sequence: {
      opened: [...total.sequence.opened, ...outcome.sequence.opened],
      closed: [...total.sequence.closed, ...outcome.sequence.closed],
    },
    touched: [...total.touched, ...outcome.touched],
    ...(total.newestEventAt === undefined && outcome.newestEventAt === undefined
      ? {}
      : { newestEventAt: Math.max(total.newestEventAt ?? 0, outcome.newestEventAt ?? 0) }),
    accountId,
    rows: total.rows + 1,
    waitedMs: Math.max(total.waitedMs, waitedMs),
  };
}

/**
 * Applies the oldest pending inbox rows of one account (see `rowsPerTransaction`); undefined when none is pending. A
 * row whose projection throws is counted (the error is thrown on, and the row is tried again later) until it has
 * failed `--projection-attempts` times: then it is set aside and its failure is returned, so the rows behind it are
 * applied. The rows before it in the same transaction are applied again at once without it, so only the failing row
 * is counted. Transient database errors (deadlocks, SQLITE_BUSY, a lost connection) are thrown on without counting.
 */
export async function projectNext(
  context: MirrorContext,
  enrich: boolean,
): Promise<ProjectedRows | { setAside: ProjectionFailure } | undefined> {
  const { database } = context;
  let existing = existingRows.get(database.db);
  if (!existing || existing.size > 200_000) {
    existing = new Set();
    existingRows.set(database.db, existing);
  }
  let limit = rowsPerTransaction;
  for (;;) {
    let applying: { id: number; account_id: number } | undefined;
    let appliedBefore = 0;
    try {
      const outcome = await database.db.transaction().execute(async (trx) => {
        const accountId = await claimAccount(trx, context);
        if (accountId === undefined) return undefined;
        context.signals.emit('account-held', accountId, true);
        try {
          const started = performance.now();
          let total: ProjectedRows | undefined;
          const touched = new Set<string>();
          const budgetMs = database.dialect === 'sqlite' ? sqliteTransactionMs : Number.POSITIVE_INFINITY;
          while (appliedBefore < limit && performance.now() - started < budgetMs) {
            const row = await nextRow(trx, accountId);
            if (!row) break;
            applying = row;
            const now = context.now();
            const outcome = await projectBatch(trx, row, {
              now,
              enrich,
              // Rows touched by the transaction's earlier rows exist for the later ones.
              existing: { has: (key) => existing.has(key) || touched.has(key) },
              digestWindowMs: context.settings.notifyDigestWindowMs,
            });
            for (const key of outcome.touched) touched.add(key);
            // How long this delivery waited in the inbox: the mirror's own lag, whatever the age of the events it carries.
            total = addOutcome(total, outcome, accountId, Math.max(0, now - row.received_at));
            appliedBefore++;
          }
          return total;
        } finally {
          context.signals.emit('account-held', accountId, false);
        }
      });
      for (const key of outcome?.touched ?? []) existing.add(key);
      return outcome;
    } catch (error) {
      // A lock conflict or a lost connection says nothing about the row: it is not counted (the loop backs off).
      if (!applying || isTransientDatabaseError(error)) throw error;
      if (appliedBefore > 0) {
        limit = appliedBefore;
        continue;
      }
      const failure = await recordProjectionFailure(context, applying, error);
      if (!failure.setAside) throw error;
      return { setAside: failure };
    }
  }
}

/** The projector's share of the process's time while the receiver is busy. */
const projectorShare = 0.25;
/** The receiver counts as busy for this long after a delivery arrived. */
const receiverBusyMs = 100;
/** A row that waited this long in the inbox is applied at full speed, deliveries or not: the backlog stays bounded. */
const catchUpAfterMs = 10_000;

/** `3 events applied, 1 duplicate, 0 ignored by the ordering rules`. */
function events(amounts: Record<string, number>): string {
  const applied = amounts.applied ?? 0;
  const duplicates = amounts.duplicates ?? 0;
  return `${applied} event${applied === 1 ? '' : 's'} applied, ${duplicates} duplicate${duplicates === 1 ? '' : 's'}, ${amounts.ignored ?? 0} ignored by the ordering rules`;
}

export function startProjector(context: MirrorContext): RunningProjector {
  const enrich = Boolean(context.settings.api);
  let stopped = false;
  let wake: (() => void) | undefined;
  let stopWaiting: (() => void) | undefined;
  let lagAlerting = false;
  let running: Promise<number> | undefined;

  const flow = createFlowLog(context.logger, context.settings.logSummaryEveryMs, (_kind, _transactions, amounts, account) => {
    const batches = amounts.batches ?? 0;
    return {
      level: 'info',
      line: batches === 1 ? `applied a batch of account ${account}: ${events(amounts)}` : `applied ${batches} batches: ${events(amounts)}`,
    };
  });

  const afterBatch = async (outcome: ProjectedRows | { setAside: ProjectionFailure }) => {
    if ('setAside' in outcome) {
      const { inboxId, accountId, attempts, error } = outcome.setAside;
      await sendAlert(context, {
        kind: 'unprocessable',
        accountId,
        inboxId,
        message: `inbox row ${inboxId} of account ${accountId} failed ${attempts} times and is set aside (${error}); fix the cause, then run learnhook mirror retry-failed`,
      });
      return;
    }
    if (outcome.applied > 0) context.signals.emit('enrichment-queued');
    flow.count(
      'applied',
      { batches: outcome.rows, applied: outcome.applied, duplicates: outcome.duplicates, ignored: outcome.ignored },
      String(outcome.accountId),
    );
    for (const gap of outcome.sequence.opened) {
      await sendAlert(context, {
        kind: 'gap',
        message: `account ${gap.accountId}: delivery sequence ${gap.firstMissing}-${gap.lastMissing} is missing; replay it from the platform`,
        ...gap,
      });
    }
    // Lag is what is pending: a delivery that waited long in the inbox. Old events (a replay, late progress) are not lag.
    const lagMs = outcome.waitedMs;
    if (lagMs > context.settings.lagAlertMs && !lagAlerting) {
      lagAlerting = true;
      await sendAlert(context, {
        kind: 'lag',
        lagMs,
        message: `the mirror is behind: a delivery waited ${Math.round(lagMs / 1000)} s in the inbox before it was applied`,
      });
    } else if (lagMs <= context.settings.lagAlertMs) {
      lagAlerting = false;
    }
  };

  let receivedAt = Number.NEGATIVE_INFINITY;
  const onReceived = () => {
    receivedAt = performance.now();
  };
  context.signals.on('delivery-received', onReceived);

  const drainOnce = async (): Promise<number> => {
    let count = 0;
    while (!stopped) {
      const started = performance.now();
      const outcome = await projectNext(context, enrich);
      if (!outcome) break;
      count++;
      await afterBatch(outcome);
      const finished = performance.now();
      await new Promise((resolve) => {
        // While deliveries arrive and the inbox is fresh, the projector takes at most a quarter of the process's time:
        // the receiver shares its event loop, and acknowledging at once is what the sender waits for. Once what it
        // applies has waited a while, it applies at full speed again and the receiver slows down with it.
        const giveWay = finished - receivedAt < receiverBusyMs && 'waitedMs' in outcome && outcome.waitedMs < catchUpAfterMs;
        // Otherwise one turn of the event loop: SQLite answers synchronously, so a long backlog would starve the receiver.
        if (giveWay) setTimeout(resolve, (finished - started) * (1 / projectorShare - 1));
        else setImmediate(resolve);
      });
    }
    return count;
  };

  // One drain at a time. A call during a drain gets a new drain after it: the running one may already have
  // read past the row the caller just stored.
  let queued: Promise<number> | undefined;
  const drain = (): Promise<number> => {
    if (!running) {
      running = drainOnce().finally(() => {
        running = undefined;
      });
      return running;
    }
    queued ??= running
      .catch(() => 0)
      .then(() => {
        queued = undefined;
        return drain();
      });
    return queued;
  };

  const onStored = () => wake?.();
  context.signals.on('inbox-stored', onStored);
  const loop = (async () => {
    // Consecutive transient failures: each doubles the wait (up to 8 poll intervals), and new deliveries do not
    // cut it short, so a database that is restarting is not hammered.
    let transientFailures = 0;
    while (!stopped) {
      let delay = context.settings.pollIntervalMs;
      try {
        await drain();
        if (transientFailures > 0) context.logger.info('the projector is applying inbox rows again');
        transientFailures = 0;
      } catch (error) {
        if (isTransientDatabaseError(error)) {
          transientFailures++;
          delay = context.settings.pollIntervalMs * 2 ** Math.min(transientFailures - 1, 3);
          context.logger.warn(
            { err: error },
            `the projector's database is busy or unreachable (${(error as Error).message}); it tries again in ${delay} ms`,
          );
        } else {
          context.logger.error({ err: error }, `the projector stopped on an error; it tries again in ${delay} ms`);
        }
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        const wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
        wake = transientFailures > 0 ? undefined : wakeUp;
        stopWaiting = wakeUp;
      });
      wake = undefined;
    }
  })();

  return {
    name: 'projector',
    drain,
    async stop() {
      stopped = true;
      context.signals.off('inbox-stored', onStored);
      context.signals.off('delivery-received', onReceived);
      stopWaiting?.();
      await loop;
      flow.stop();
    },
  };
}
