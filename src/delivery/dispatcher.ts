// The dispatcher: finds webhooks with due work, leases them, and runs one delivery loop per webhook under a global concurrency limit.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { ProducerContext } from '../context.ts';
import { GroupCommit } from '../store/group-commit.ts';
import { AttemptLog } from './attempt-log.ts';
import { type DeliveryDeps, deliverWebhook } from './deliver-webhook.ts';
import { deliveryMetrics } from './delivery-metrics.ts';
import type { Notifier } from './notifier.ts';
import { DeliverySender } from './send-delivery.ts';
import { claimWebhook, releaseWebhook } from './webhook-lease.ts';

/** Webhooks that have work now and no live lease: a batch in flight, a replay, or events after the cursor. */
async function findDueWebhooks(context: ProducerContext, now: number, limit: number, skip: ReadonlySet<string>): Promise<string[]> {
  const rows = await context.database.db
    .selectFrom('webhooks')
    .innerJoin('accounts', 'accounts.id', 'webhooks.account_id')
    .select('webhooks.id')
    .where('webhooks.state', '=', 'enabled')
    .where('accounts.status', '=', 'ACTIVE')
    .where((eb) => eb.or([eb('webhooks.lease_until', 'is', null), eb('webhooks.lease_until', '<', now)]))
    .where((eb) => eb.or([eb('webhooks.next_attempt_at', 'is', null), eb('webhooks.next_attempt_at', '<=', now)]))
    .where((eb) =>
      eb.or([
        eb('webhooks.batch_id', 'is not', null),
        eb('webhooks.replay_cursor', 'is not', null),
        eb('webhooks.cursor', '<', eb.ref('accounts.last_seq')),
      ]),
    )
    .orderBy('webhooks.next_attempt_at')
    .limit(limit + skip.size)
    .execute();
  return rows.map((row) => row.id).filter((id) => !skip.has(id));
}

/** When the earliest sleeping retry is due, so the dispatcher wakes for it rather than at the next poll. */
async function nextRetryAt(context: ProducerContext, now: number): Promise<number | undefined> {
  const row = await context.database.db
    .selectFrom('webhooks')
    .select((eb) => eb.fn.min<number | null>('next_attempt_at').as('at'))
    .where('state', '=', 'enabled')
    .where('next_attempt_at', '>', now)
    .executeTakeFirst();
  return row?.at ?? undefined;
}

export class Dispatcher {
  readonly #deps: DeliveryDeps;
  readonly #running = new Map<string, Promise<void>>();
  #stopping = false;
  /** The scan in progress, if any: stop() waits for it, so no delivery starts after stop() returns. */
  #scanning: Promise<void> | null = null;
  #scanAgain = false;
  #timer: NodeJS.Timeout | undefined;
  readonly #wake = () => this.#scan();

  constructor(
    private readonly context: ProducerContext,
    notifier: Notifier,
  ) {
    const owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.#deps = {
      context,
      sender: new DeliverySender(context.settings),
      metrics: deliveryMetrics(context),
      notifier,
      attempts: new AttemptLog(context),
      commits: new GroupCommit(context.database.db, { groupsInFlight: context.database.concurrentWrites ? 2 : 1 }),
      owner,
    };
  }

  start(): void {
    this.context.signals.on('events-appended', this.#wake);
    this.context.signals.on('webhook-changed', this.#wake);
    this.#scan();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.context.signals.off('events-appended', this.#wake);
    this.context.signals.off('webhook-changed', this.#wake);
    clearTimeout(this.#timer);
    await this.#scanning;
    await Promise.allSettled(this.#running.values());
    await this.#deps.sender.close();
  }

  #scan(): void {
    if (this.#stopping) return;
    if (this.#scanning) {
      this.#scanAgain = true;
      return;
    }
    this.#scanning = this.#scanOnce()
      .catch((error: unknown) =>
        this.context.logger.error({ err: error }, 'the dispatcher could not look for due webhooks; it tries again at the next poll'),
      )
      .finally(() => {
        this.#scanning = null;
        this.context.signals.emit('dispatcher-scanned');
        if (this.#scanAgain) {
          this.#scanAgain = false;
          this.#scan();
        }
      });
  }

  async #scanOnce(): Promise<void> {
    const { settings } = this.context;
    const now = this.context.now();
    const free = settings.concurrency - this.#running.size;
    if (free > 0) {
      const due = await findDueWebhooks(this.context, now, free, new Set(this.#running.keys()));
      for (const webhookId of due.slice(0, free)) {
        if (this.#stopping) break;
        if (!(await claimWebhook(this.context, this.#deps.owner, webhookId, now))) continue;
        // Stopped while claiming: give the webhook back rather than start a delivery stop() does not wait for.
        if (this.#stopping) await releaseWebhook(this.context, this.#deps.owner, webhookId);
        else this.#runWebhook(webhookId);
      }
    }
    const retryAt = await nextRetryAt(this.context, now);
    const wait = Math.max(1, Math.min(settings.pollIntervalMs, retryAt === undefined ? Number.POSITIVE_INFINITY : retryAt - now));
    clearTimeout(this.#timer);
    if (!this.#stopping) this.#timer = setTimeout(this.#wake, wait);
  }

  #runWebhook(webhookId: string): void {
    const run = (async () => {
      try {
        // Keep the lease while there is work: one request in flight per webhook, batch after batch.
        await deliverWebhook(this.#deps, webhookId, () => this.#stopping);
      } catch (error) {
        this.context.logger.error(
          { err: error, webhookId },
          `delivery to webhook ${webhookId} stopped on an error; it is retried at the next poll`,
        );
      } finally {
        await releaseWebhook(this.context, this.#deps.owner, webhookId);
        this.#running.delete(webhookId);
        this.context.signals.emit('webhook-released', webhookId);
        this.#scan();
      }
    })();
    this.#running.set(webhookId, run);
  }
}
