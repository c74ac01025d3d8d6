// A webhook lease this process holds while it delivers: renewed while a send is in flight, lost at once when taken over or when the cluster session ends.
import type { ProducerContext } from '../context.ts';
import { releaseWebhook, renewLease } from './webhook-lease.ts';

/**
 * The lease of one webhook for one delivery run. It is renewed every third of the lease, so a send slower than the
 * lease never lets another process take the webhook over. It is lost when a renewal finds another owner, when it could
 * not be renewed for a whole lease, or when `lose()` is called (the cluster session ended: others may take over now);
 * `signal` then aborts what is in flight, and the run ends without writing.
 */
export class HeldLease {
  readonly #controller = new AbortController();
  readonly #timer: NodeJS.Timeout;
  #renewing: Promise<void> | null = null;
  #renewedAt: number;

  constructor(
    private readonly context: ProducerContext,
    /** The owner name the lease was claimed under (the cluster session's at the claim). */
    readonly owner: string,
    readonly webhookId: string,
    claimedAt: number,
  ) {
    this.#renewedAt = claimedAt;
    this.#timer = setInterval(() => this.#renew(), Math.max(1, Math.floor(context.settings.leaseMs / 3)));
  }

  /** Aborted when the lease is lost. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get lost(): boolean {
    return this.#controller.signal.aborted;
  }

  /** Ends the lease here: what is in flight is aborted, and nothing more is written for the webhook. */
  lose(why: string): void {
    if (this.lost) return;
    clearInterval(this.#timer);
    this.context.logger.warn({ webhookId: this.webhookId }, `delivery to webhook ${this.webhookId} stopped: ${why}`);
    this.#controller.abort(new Error(why));
  }

  /** Stops renewing and gives the webhook back (unless it was lost: then it is no longer this process's to give). */
  async end(): Promise<void> {
    clearInterval(this.#timer);
    await this.#renewing;
    if (!this.lost) await releaseWebhook(this.context, this.owner, this.webhookId);
  }

  #renew(): void {
    if (this.#renewing || this.lost) return;
    const now = this.context.now();
    this.#renewing = renewLease(this.context, this.owner, this.webhookId, now)
      .then(
        (renewed) => {
          if (renewed) this.#renewedAt = now;
          else this.lose('another process took it over');
        },
        (error: unknown) => {
          // The database did not answer: tried again at the next renewal, until the lease has run out.
          if (this.context.now() - this.#renewedAt < this.context.settings.leaseMs) return;
          this.lose(`its lease could not be renewed for ${this.context.settings.leaseMs} ms (${(error as Error).message})`);
        },
      )
      .finally(() => {
        this.#renewing = null;
      });
  }
}
