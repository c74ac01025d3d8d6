// GET /metrics: the producer's Prometheus metrics (delivery outcomes, failure causes, latency, backlog).
import { deliveryMetrics } from '../delivery/delivery-metrics.ts';
import type { ApiDeps, LearnhookApp } from './app.ts';

export async function metricsRoutes(app: LearnhookApp, { context }: ApiDeps): Promise<void> {
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    const { registry } = deliveryMetrics(context);
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}
