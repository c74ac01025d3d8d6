// Prometheus metrics of the mirror on its own registry, read from the same numbers as GET /status at each scrape.
import { Gauge, Registry } from 'prom-client';
import type { MirrorContext } from './mirror-context.ts';
import { readStatus } from './read-status.ts';

export function createMirrorMetrics(context: MirrorContext): Registry {
  const registry = new Registry();
  const gauges = {
    backlog: new Gauge({
      name: 'learnhook_mirror_inbox_backlog',
      help: 'Inbox rows received but not yet applied.',
      registers: [registry],
      collect: () => refresh(),
    }),
    oldest: new Gauge({
      name: 'learnhook_mirror_inbox_oldest_pending_seconds',
      help: 'Age of the oldest pending inbox row.',
      registers: [registry],
    }),
    lag: new Gauge({
      name: 'learnhook_mirror_lag_seconds',
      help: 'Event time to applied, for the newest event of the last applied batch.',
      registers: [registry],
    }),
    events: new Gauge({
      name: 'learnhook_mirror_events',
      help: 'Events by outcome: applied, duplicate, ignored by rule, out of order, unknown.',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    gaps: new Gauge({ name: 'learnhook_mirror_gaps_total', help: 'Sequence gaps ever opened.', registers: [registry] }),
    openGaps: new Gauge({ name: 'learnhook_mirror_open_gaps', help: 'Sequence gaps not yet filled.', registers: [registry] }),
    queue: new Gauge({
      name: 'learnhook_mirror_enrichment_queue',
      help: 'Ids waiting to be fetched from the read API.',
      registers: [registry],
    }),
    budget: new Gauge({
      name: 'learnhook_mirror_rate_budget_remaining',
      help: 'Read-API calls left in the current window.',
      registers: [registry],
    }),
  };
  const refresh = async () => {
    const status = await readStatus(context);
    gauges.backlog.set(status.inbox.backlog);
    gauges.oldest.set(status.inbox.oldestPendingAgeMs / 1000);
    gauges.lag.set((status.lagMs ?? 0) / 1000);
    gauges.events.set({ outcome: 'applied' }, status.counts.applied);
    gauges.events.set({ outcome: 'duplicate' }, status.counts.duplicates);
    gauges.events.set({ outcome: 'ignored' }, status.counts.ignored);
    gauges.events.set({ outcome: 'out_of_order' }, status.counts.outOfOrder);
    gauges.events.set({ outcome: 'unknown' }, status.counts.unknown);
    gauges.gaps.set(status.counts.gaps);
    gauges.openGaps.set(status.openGaps.length);
    gauges.queue.set(status.enrichment.queued);
    gauges.budget.set(status.enrichment.remaining);
  };
  return registry;
}
