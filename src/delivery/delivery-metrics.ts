// Prometheus metrics of delivery, in a registry of their own per producer context (never prom-client's global one).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ProducerContext } from '../context.ts';
import type { FlowLog } from '../flow-log.ts';
import type { FailureCause } from './send-delivery.ts';

export interface DeliveryMetrics {
  registry: Registry;
  deliveries: Counter<'outcome'>;
  failures: Counter<'cause'>;
  latency: Histogram<'outcome'>;
  eventsDelivered: Counter;
  /** Info lines summing up deliveries, while a delivery service runs in this process. */
  flow?: FlowLog;
  /** While delivery runs on a thread of its own: that thread's metrics, in Prometheus's text format. */
  onThread?: () => Promise<string>;
}

const metricsByContext = new WeakMap<ProducerContext, DeliveryMetrics>();

function createMetrics(context: ProducerContext): DeliveryMetrics {
  const registry = new Registry();
  const deliveries = new Counter({
    name: 'learnhook_deliveries_total',
    help: 'Delivery attempts by outcome (acknowledged or failed).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const failures = new Counter({
    name: 'learnhook_delivery_failures_total',
    help: 'Failed delivery attempts by cause: timeout, refused, reset, status, ssrf, network.',
    labelNames: ['cause'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'learnhook_delivery_duration_seconds',
    help: 'Time from sending a batch to its answer (or failure).',
    labelNames: ['outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15],
    registers: [registry],
  });
  const eventsDelivered = new Counter({
    name: 'learnhook_events_delivered_total',
    help: 'Events acknowledged by webhook targets.',
    registers: [registry],
  });
  new Gauge({
    name: 'learnhook_delivery_backlog_events',
    help: 'Events in the logs of ACTIVE accounts after the cursors of enabled webhooks (chosen or not).',
    registers: [registry],
    async collect() {
      const row = await context.database.db
        .selectFrom('webhooks')
        .innerJoin('accounts', 'accounts.id', 'webhooks.account_id')
        .select((eb) => eb.fn.sum<number | string | null>(eb('accounts.last_seq', '-', eb.ref('webhooks.cursor'))).as('backlog'))
        .where('webhooks.state', '=', 'enabled')
        .where('accounts.status', '=', 'ACTIVE')
        .executeTakeFirst();
      this.set(Number(row?.backlog ?? 0));
    },
  });
  return { registry, deliveries, failures, latency, eventsDelivered };
}

/** The delivery metrics of a context, shared by its dispatcher and its /metrics route. */
export function deliveryMetrics(context: ProducerContext): DeliveryMetrics {
  let metrics = metricsByContext.get(context);
  if (!metrics) {
    metrics = createMetrics(context);
    metricsByContext.set(context, metrics);
  }
  return metrics;
}

/** The metrics `GET /metrics` shows: the delivery thread's when delivery runs there, else this context's. */
export async function metricsText(context: ProducerContext): Promise<string> {
  const metrics = deliveryMetrics(context);
  return metrics.onThread ? metrics.onThread() : metrics.registry.metrics();
}

export function recordAttempt(
  metrics: DeliveryMetrics,
  result: { acknowledged: boolean; cause: FailureCause | null; durationMs: number },
  eventCount: number,
): void {
  const outcome = result.acknowledged ? 'acknowledged' : 'failed';
  metrics.deliveries.inc({ outcome });
  metrics.latency.observe({ outcome }, result.durationMs / 1000);
  if (result.acknowledged) metrics.eventsDelivered.inc(eventCount);
  else metrics.failures.inc({ cause: result.cause ?? 'network' });
  metrics.flow?.count(outcome, { events: eventCount });
}
