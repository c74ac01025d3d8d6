// Prints the README's settings table from the settings table in src/config.ts (`npm run docs:settings`).
import { settingDefinitions } from '../src/config.ts';

export function settingsTable(): string {
  const rows = settingDefinitions.map((definition) => {
    const flag =
      definition.kind === 'boolean'
        ? `--${definition.flag}`
        : `--${definition.flag} <${definition.kind === 'durationRange' ? 'range' : definition.kind}>`;
    const defaultValue = definition.defaultValue === '' ? '—' : `\`${definition.defaultValue}\``;
    return `| \`${flag}\` | \`${definition.env}\` | ${defaultValue} | ${definition.commands.join(', ')} | ${definition.doc} |`;
  });
  return ['| flag | environment variable | default | commands | meaning |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(`${settingsTable()}\n`);
