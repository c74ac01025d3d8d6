// Prometheus metrics of the mirror on its own registry, read from the same numbers as GET /status at each scrape.
import { Gauge, Registry } from 'prom-client';
import type { MirrorContext } from './mirror-context.ts';
import { type MirrorStatus, readStatus } from './read-status.ts';

type Setter = (gauge: Gauge, status: MirrorStatus) => void;

const definitions: Array<{ name: string; help: string; labelNames?: string[]; set: Setter }> = [
  { name: 'learnhook_mirror_inbox_backlog', help: 'Inbox rows received but not yet applied.', set: (g, s) => g.set(s.inbox.backlog) },
  {
    name: 'learnhook_mirror_inbox_set_aside',
    help: 'Inbox rows set aside after failing --projection-attempts times, waiting for learnhook mirror retry-failed.',
    set: (g, s) => g.set(s.inbox.setAside),
  },
  {
    name: 'learnhook_mirror_held_events',
    help: 'Events kept unapplied because they could not be read or stored, waiting for learnhook mirror retry-failed.',
    set: (g, s) => g.set(s.inbox.heldEvents),
  },
  {
    name: 'learnhook_mirror_inbox_oldest_pending_seconds',
    help: 'Age of the oldest pending inbox row.',
    set: (g, s) => g.set(s.inbox.oldestPendingAgeMs / 1000),
  },
  {
    name: 'learnhook_mirror_lag_seconds',
    help: 'Event time to applied, for the newest event of the last applied batch.',
    set: (g, s) => g.set((s.lagMs ?? 0) / 1000),
  },
  {
    name: 'learnhook_mirror_events',
    help: 'Events by outcome: applied, duplicate, ignored by rule, out of order, unknown, unreadable (held).',
    labelNames: ['outcome'],
    set: (g, s) => {
      g.set({ outcome: 'applied' }, s.counts.applied);
      g.set({ outcome: 'duplicate' }, s.counts.duplicates);
      g.set({ outcome: 'ignored' }, s.counts.ignored);
      g.set({ outcome: 'out_of_order' }, s.counts.outOfOrder);
      g.set({ outcome: 'unknown' }, s.counts.unknown);
      g.set({ outcome: 'unreadable' }, s.counts.unreadable);
    },
  },
  {
    name: 'learnhook_mirror_duplicate_batches',
    help: 'Batches received again (same webhook-id).',
    set: (g, s) => g.set(s.counts.duplicateBatches),
  },
  { name: 'learnhook_mirror_gaps_total', help: 'Sequence gaps ever opened.', set: (g, s) => g.set(s.counts.gaps) },
  { name: 'learnhook_mirror_open_gaps', help: 'Sequence gaps not yet filled.', set: (g, s) => g.set(s.openGaps.length) },
  {
    name: 'learnhook_mirror_enrichment_queue',
    help: 'Ids waiting to be fetched from the read API.',
    set: (g, s) => g.set(s.enrichment.queued),
  },
  {
    name: 'learnhook_mirror_rate_budget_remaining',
    help: 'Read-API calls left in the current window.',
    set: (g, s) => g.set(s.enrichment.remaining),
  },
  {
    name: 'learnhook_mirror_notifications',
    help: 'Notification messages by state: pending, retrying (pending after a failed attempt), sent, failed (given up), in_doubt (repeated after a crash mid-send).',
    labelNames: ['state'],
    set: (g, s) => {
      const n = s.notifications;
      g.set({ state: 'pending' }, n.pending);
      g.set({ state: 'retrying' }, n.retrying);
      g.set({ state: 'sent' }, n.sent);
      g.set({ state: 'failed' }, n.failed);
      g.set({ state: 'in_doubt' }, n.inDoubt);
    },
  },
  {
    name: 'learnhook_mirror_notify_channel_failing',
    help: 'Whether the last attempt through a notification channel failed (1) or succeeded (0).',
    labelNames: ['channel'],
    set: (g, s) => {
      g.reset();
      for (const channel of s.notifications.channels) g.set({ channel: channel.channel }, channel.state === 'failing' ? 1 : 0);
    },
  },
  {
    name: 'learnhook_mirror_notify_oldest_due_seconds',
    help: 'Age of the oldest notification that is due and not sent yet.',
    set: (g, s) => g.set(s.notifications.oldestDueAgeMs / 1000),
  },
];

export function createMirrorMetrics(context: MirrorContext): Registry {
  const registry = new Registry();
  // prom-client collects every metric at once: one status read serves the whole scrape.
  let reading: Promise<MirrorStatus> | undefined;
  const current = () => {
    reading ??= readStatus(context).finally(() => {
      setImmediate(() => {
        reading = undefined;
      });
    });
    return reading;
  };
  for (const definition of definitions) {
    new Gauge({
      name: definition.name,
      help: definition.help,
      labelNames: definition.labelNames ?? [],
      registers: [registry],
      async collect() {
        definition.set(this, await current());
      },
    });
  }
  return registry;
}
