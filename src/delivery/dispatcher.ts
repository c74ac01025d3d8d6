// The dispatcher: claims webhooks with due work (longest-waiting first), and runs one delivery loop per webhook under a global concurrency limit.
import type { ProducerContext } from '../context.ts';
import { GroupCommit } from '../store/group-commit.ts';
import { AttemptLog, attemptsFrame } from './attempt-log.ts';
import { type DeliveryDeps, deliverWebhook } from './deliver-webhook.ts';
import { deliveryMetrics } from './delivery-metrics.ts';
import { HeldLease } from './held-lease.ts';
import type { Notifier } from './notifier.ts';
import { DeliverySender } from './send-delivery.ts';
import { anyWebhookWaiting, claimDueWebhooks, type LeasedWebhook } from './webhook-lease.ts';

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

/** How long a webhook keeps its worker's slot, batch after batch, while other due webhooks wait for one. */
const turnMs = 1000;

interface Run {
  lease: HeldLease;
  done: Promise<void>;
}

export class Dispatcher {
  readonly #deps: Omit<DeliveryDeps, 'owner'>;
  readonly #running = new Map<string, Run>();
  #stopping = false;
  /** Whether due webhooks were waiting for a slot at the last scan: running webhooks then end their turn. */
  #crowded = false;
  /** The scan in progress, if any: stop() waits for it, so no delivery starts after stop() returns. */
  #scanning: Promise<void> | null = null;
  #scanAgain = false;
  #timer: NodeJS.Timeout | undefined;
  #stopWatchingSession = () => {};
  readonly #wake = () => this.#scan();

  constructor(
    private readonly context: ProducerContext,
    notifier: Notifier,
  ) {
    this.#deps = {
      context,
      sender: new DeliverySender(context.settings),
      metrics: deliveryMetrics(context),
      notifier,
      attempts: new AttemptLog(context),
      commits: new GroupCommit(context.database.db, {
        // On PostgreSQL 4: a group that carries attempts holds its slot for a few round trips, and with 2 the plan
        // writes a first send waits for queued behind them (paced p99 at batch 100 up to 70 ms, against ~23 with 4).
        groupsInFlight: context.database.concurrentWrites ? 4 : 1,
        // Each write is one conditional UPDATE of a webhook row (updateLeasedWebhook); the attempts the writes carry
        // are inserted once for the group.
        frame: attemptsFrame,
      }),
    };
  }

  start(): void {
    this.context.signals.on('events-appended', this.#wake);
    this.context.signals.on('webhook-changed', this.#wake);
    // The session's liveness lock is gone with its connection: other processes may take these webhooks over now.
    this.#stopWatchingSession = this.context.cluster.onLost(() => {
      for (const { lease } of this.#running.values()) lease.lose('the cluster session was lost, so other processes may take it over');
    });
    this.#scan();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.context.signals.off('events-appended', this.#wake);
    this.context.signals.off('webhook-changed', this.#wake);
    this.#stopWatchingSession();
    clearTimeout(this.#timer);
    await this.#scanning;
    // Each run finishes the send in flight, records it and gives its lease back before the database closes.
    await Promise.allSettled([...this.#running.values()].map((run) => run.done));
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
    // A scan that fails (a lost connection, a locked store) still leaves the next poll armed: without it, only a new
    // event or a webhook change would wake the dispatcher again, and due retries would wait for one.
    let wait = settings.pollIntervalMs;
    try {
      const now = this.context.now();
      // The next retry's time is read beside the claim, not after it: a wake-up that comes during a scan waits for it.
      const [retryAt] = await Promise.all([nextRetryAt(this.context, now), this.#claim(now)]);
      if (retryAt !== undefined) wait = Math.max(1, Math.min(wait, retryAt - now));
    } finally {
      clearTimeout(this.#timer);
      if (!this.#stopping) this.#timer = setTimeout(this.#wake, wait);
    }
  }

  /** Claims due webhooks for the free slots and starts their runs. */
  async #claim(now: number): Promise<void> {
    const { settings, cluster } = this.context;
    // Without its session (PostgreSQL), a claim would be under a name others see as gone: they could take it at once.
    if (!cluster.connected) return;
    const owner = cluster.owner;
    const free = settings.concurrency - this.#running.size;
    const claimed = free > 0 ? await claimDueWebhooks(this.context, owner, now, free, [...this.#running.keys()]) : [];
    for (const row of claimed) {
      const lease = new HeldLease(this.context, owner, row.id, now);
      // Stopped while claiming: give the webhook back rather than start a delivery stop() does not wait for.
      if (this.#stopping) await lease.end();
      else this.#runWebhook(lease, row);
    }
    this.#crowded = claimed.length === free && (await anyWebhookWaiting(this.context, now, [...this.#running.keys()]));
  }

  #runWebhook(lease: HeldLease, claimed: LeasedWebhook): void {
    const { webhookId } = lease;
    const startedAt = performance.now();
    // A run ends when the webhook has no due work, on stop, when its lease is lost, or after its turn while others wait.
    const stopping = () => this.#stopping || lease.lost || (this.#crowded && performance.now() - startedAt >= turnMs);
    const done = (async () => {
      try {
        // Keep the lease while there is work: one request in flight per webhook, batch after batch.
        await deliverWebhook({ ...this.#deps, owner: lease.owner }, claimed, { stopping, signal: lease.signal });
      } catch (error) {
        this.context.logger.error(
          { err: error, webhookId },
          `delivery to webhook ${webhookId} stopped on an error; it is retried at the next poll`,
        );
      } finally {
        await lease.end();
        this.#running.delete(webhookId);
        this.context.signals.emit('webhook-released', webhookId);
        this.#scan();
      }
    })();
    this.#running.set(webhookId, { lease, done });
  }
}
