// `learnhook catalog list` (every event a webhook can subscribe to) and `catalog export` (JSON Schemas and AsyncAPI).
import path from 'node:path';
import type { Command } from 'commander';
import { withExamples } from './help.ts';

export function addCatalogCommands(program: Command): void {
  const catalog = withExamples(
    program.command('catalog').description('The event catalog: the 27 events a webhook can subscribe to.'),
    'learnhook catalog list',
    'learnhook catalog export --out schemas',
  );

  withExamples(
    catalog
      .command('list')
      .description('List every event with its class (realtime or batch), its data family and when the platform emits it.')
      .option('--json', 'print JSON instead of a table'),
    'learnhook catalog list',
    'learnhook catalog list --json | jq -r ".[].name"',
  ).action(async (options: { json?: boolean }) => {
    const { eventDefinitions } = await import('../catalog/events.ts');
    if (options.json) {
      process.stdout.write(`${JSON.stringify(eventDefinitions, null, 2)}\n`);
      return;
    }
    const width = Math.max(...eventDefinitions.map((definition) => definition.name.length));
    const lines = eventDefinitions.map(
      (definition) =>
        `${definition.name.padEnd(width)}  ${definition.class.padEnd(8)}  ${definition.family.padEnd(14)}  ${definition.description}`,
    );
    process.stdout.write(
      `${['event'.padEnd(width), 'class   ', 'data family   ', 'emitted when'].join('  ')}\n${lines.join('\n')}\n` +
        `\n${eventDefinitions.length} events. A webhook created without --events (or with --events all) receives every one.\n`,
    );
  });

  withExamples(
    catalog
      .command('export')
      .description('Write the JSON Schema of every event and the envelope, and an AsyncAPI 3 document.')
      .option('--out <folder>', 'folder to write into', 'schemas'),
    'learnhook catalog export --out schemas',
  ).action(async (options: { out: string }) => {
    const { exportCatalog } = await import('../catalog/export-catalog.ts');
    const { version } = await import('./main.ts');
    const written = exportCatalog(path.resolve(options.out), version);
    process.stdout.write(`wrote ${written.length} files under ${options.out}\n`);
  });
}
