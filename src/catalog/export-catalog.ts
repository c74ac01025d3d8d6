// Writes the catalog as JSON Schema files (one per event, plus the envelope) and an AsyncAPI 3 document.
import fs from 'node:fs';
import path from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import {
  replayHeader,
  sequenceHeader,
  testHeader,
  webhookIdHeader,
  webhookSignatureHeader,
  webhookTimestampHeader,
} from './delivery-headers.ts';
import { eventDefinitions } from './events.ts';
import { sampleEnvelope } from './samples.ts';
import { Envelope, eventSchemas } from './schemas.ts';

/** A TypeBox schema as plain JSON Schema (drops TypeBox's symbol keys). */
export function toJsonSchema(schema: TSchema): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
}

export function asyncApiDocument(version: string): Record<string, unknown> {
  const messages: Record<string, unknown> = {};
  for (const definition of eventDefinitions) {
    messages[definition.name] = {
      name: definition.name,
      title: definition.name,
      summary: definition.description,
      contentType: 'application/json',
      tags: [{ name: definition.class }],
      headers: { $ref: '#/components/schemas/DeliveryHeaders' },
      payload: {
        type: 'object',
        required: ['accountId', 'events'],
        properties: {
          accountId: { type: 'integer' },
          events: { type: 'array', minItems: 1, items: { $ref: `#/components/schemas/${definition.name}` } },
        },
      },
      examples: [{ name: 'sample', payload: sampleEnvelope(definition.name) }],
    };
  }
  const schemas: Record<string, unknown> = {
    DeliveryHeaders: {
      type: 'object',
      properties: {
        [webhookIdHeader]: { type: 'string', description: 'Batch id, the same on every retry of the batch.' },
        [webhookTimestampHeader]: { type: 'string', description: 'Seconds since the epoch, signed.' },
        [webhookSignatureHeader]: { type: 'string', description: 'Standard Webhooks signatures `v1,<base64>`, space-separated.' },
        [sequenceHeader]: { type: 'string', description: "The webhook's gap-free delivery sequence range `first-last`." },
        [replayHeader]: { type: 'string', description: '`true` on re-delivered batches of a replay.' },
        [testHeader]: { type: 'string', description: '`true` on test deliveries.' },
      },
    },
  };
  for (const [name, schema] of Object.entries(eventSchemas)) {
    const { $id: _id, ...rest } = toJsonSchema(schema);
    schemas[name] = rest;
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'learnhook webhook deliveries',
      version,
      description:
        "Each delivery is an HTTP POST of one account's envelope holding one or more events, in the account's order. Acknowledge with any 2xx (202 suggested) at once; anything else is retried.",
    },
    channels: {
      webhook: {
        address: '{webhookUrl}',
        parameters: { webhookUrl: { description: 'The URL registered for the webhook.' } },
        messages: Object.fromEntries(
          eventDefinitions.map((definition) => [definition.name, { $ref: `#/components/messages/${definition.name}` }]),
        ),
      },
    },
    operations: {
      deliverEvents: {
        action: 'send',
        channel: { $ref: '#/channels/webhook' },
        messages: eventDefinitions.map((definition) => ({ $ref: `#/channels/webhook/messages/${definition.name}` })),
      },
    },
    components: { messages, schemas },
  };
}

/** Writes `<out>/events/<NAME>.schema.json`, `<out>/envelope.schema.json` and `<out>/asyncapi.json`; returns the paths. */
export function exportCatalog(outDir: string, version: string): string[] {
  const written: string[] = [];
  const write = (file: string, value: unknown) => {
    const target = path.join(outDir, file);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, `${JSON.stringify(value, null, 2)}\n`);
    written.push(target);
  };
  for (const [name, schema] of Object.entries(eventSchemas)) {
    write(`events/${name}.schema.json`, { $schema: 'https://json-schema.org/draft/2020-12/schema', ...toJsonSchema(schema) });
  }
  write('envelope.schema.json', { $schema: 'https://json-schema.org/draft/2020-12/schema', ...toJsonSchema(Envelope) });
  write('asyncapi.json', asyncApiDocument(version));
  return written;
}
