// Turns the settings table into command-line options of a command, and parsed options back into settings.
import type { Command } from 'commander';
import { type CommandName, loadSettings, type Settings, type SettingsInput, settingDefinitions } from '../config.ts';

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/** Adds every setting the command takes as `--flag VALUE` (booleans as plain `--flag`). */
export function addSettingOptions(command: Command, name: CommandName): Command {
  for (const definition of settingDefinitions) {
    if (!definition.commands.includes(name)) continue;
    const text = `${definition.doc} [env ${definition.env}${definition.defaultValue ? `, default ${definition.defaultValue}` : ''}]`;
    if (definition.kind === 'boolean') command.option(`--${definition.flag}`, text);
    else command.option(`--${definition.flag} <${definition.kind === 'durationRange' ? 'range' : definition.kind}>`, text);
  }
  return command;
}

/** Settings from parsed options (flags win over environment variables, which win over defaults). */
export function settingsFromOptions(options: Record<string, unknown>, overrides: Partial<Settings> = {}): Settings {
  const given: SettingsInput = {};
  for (const definition of settingDefinitions) {
    const value = options[camel(definition.flag)];
    // Commander gives text, or true for a boolean flag without a value.
    if (typeof value === 'string') given[definition.key] = value;
    else if (value === true) given[definition.key] = 'true';
  }
  return loadSettings({ ...given, ...overrides });
}
