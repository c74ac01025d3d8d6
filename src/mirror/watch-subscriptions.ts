// Which events the mirror's tables need and the feeding webhook does not send: read from each delivery's
// `learnhook-events` header, warned about once per account and subscription, and shown in GET /status.
import { type EventFamily, eventDefinitions } from '../catalog/events.ts';
import type { MirrorContext } from './mirror-context.ts';

/** The mirror tables each event family writes; every family feeds one, so every event of the catalog matters. */
const tableOf: Record<EventFamily, string> = {
  enrollment: 'enrollments',
  completion: 'enrollments',
  unenrollment: 'enrollments',
  progress: 'enrollments',
  learningObject: 'learning_objects',
  loInstance: 'lo_instances',
  ciStats: 'ci_stats',
};

export interface IncompleteSubscription {
  accountId: number;
  /** Per table, the events it depends on that the webhook is not subscribed to. */
  missing: Record<string, string[]>;
  advice: string;
}

/** The events each table misses under a subscription (`all` or comma-separated names); empty when nothing is missing. */
export function missingByTable(subscription: string): Record<string, string[]> {
  if (subscription.trim() === 'all') return {};
  const chosen = new Set(
    subscription
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean),
  );
  const missing: Record<string, string[]> = {};
  for (const definition of eventDefinitions) {
    if (chosen.has(definition.name)) continue;
    const table = tableOf[definition.family];
    missing[table] = [...(missing[table] ?? []), definition.name];
  }
  return missing;
}

export class SubscriptionWatch {
  readonly #seen = new Map<number, string>();
  readonly #incomplete = new Map<number, IncompleteSubscription>();
  constructor(private readonly context: MirrorContext) {}

  /** Looks at one delivery's header; warns when an account's subscription changes to one that misses events. */
  observe(accountId: number, subscription: string | undefined): void {
    if (subscription === undefined || this.#seen.get(accountId) === subscription) return;
    this.#seen.set(accountId, subscription);
    const missing = missingByTable(subscription);
    if (Object.keys(missing).length === 0) {
      this.#incomplete.delete(accountId);
      return;
    }
    const advice = 'subscribe the webhook to every event (learnhook webhooks update WEBHOOK --events all), then replay what it missed';
    this.#incomplete.set(accountId, { accountId, missing, advice });
    const summary = Object.entries(missing)
      .map(([table, events]) => `${table} misses ${events.join(', ')}`)
      .join('; ');
    this.context.logger.warn(
      { accountId, missing },
      `the webhook feeding account ${accountId} is not subscribed to every event its tables depend on, so they will differ from the platform: ${summary}. ${advice}`,
    );
  }

  incomplete(): IncompleteSubscription[] {
    return [...this.#incomplete.values()];
  }
}

const watches = new WeakMap<MirrorContext, SubscriptionWatch>();

/** The watch of a mirror context, shared by its receiver and GET /status. */
export function subscriptionWatch(context: MirrorContext): SubscriptionWatch {
  let watch = watches.get(context);
  if (!watch) {
    watch = new SubscriptionWatch(context);
    watches.set(context, watch);
  }
  return watch;
}
