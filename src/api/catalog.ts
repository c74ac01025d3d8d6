// GET /v1/catalog: every event of the catalog with its class, family, description, JSON Schema and a sample.
import { eventDefinitions, eventSchemas, sampleEvent } from '../catalog/index.ts';
import type { ApiDeps, LearnhookApp } from './app.ts';

export async function catalogRoutes(app: LearnhookApp, { auth }: ApiDeps): Promise<void> {
  const catalog = eventDefinitions.map((definition) => ({
    ...definition,
    schema: eventSchemas[definition.name],
    sample: sampleEvent(definition.name),
  }));
  app.get(
    '/v1/catalog',
    { schema: { tags: ['catalog'], summary: 'The 27 events: name, class (realtime or batch), family, when it is sent, schema, sample.' } },
    async (request) => {
      await auth.principalOf(request);
      return { events: catalog };
    },
  );
}
