// GET /metrics: the producer's Prometheus metrics (delivery outcomes, failure causes, latency, backlog).
import { deliveryMetrics, metricsText } from '../delivery/delivery-metrics.ts';
import type { ApiDeps, LearnhookApp } from './app.ts';

export async function metricsRoutes(app: LearnhookApp, { context }: ApiDeps): Promise<void> {
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    return reply.type(deliveryMetrics(context).registry.contentType).send(await metricsText(context));
  });
}
