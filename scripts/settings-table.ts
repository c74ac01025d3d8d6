// Prints the settings table of docs/settings.md from the settings table in src/config.ts.
import { settingDefinitions, settingRange } from '../src/config.ts';

export function settingsTable(): string {
  const rows = settingDefinitions.map((definition) => {
    const flag =
      definition.kind === 'boolean'
        ? `--${definition.flag}`
        : `--${definition.flag} <${definition.kind === 'durationRange' ? 'range' : definition.kind}>`;
    const defaultValue = definition.defaultValue === '' ? '—' : `\`${definition.defaultValue}\``;
    return `| \`${flag}\` | \`${definition.env}\` | ${defaultValue} | ${settingRange(definition)} | ${definition.commands.join(', ')} | ${definition.doc} |`;
  });
  return [
    '| flag | environment variable | default | accepted | commands | meaning |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(`${settingsTable()}\n`);
