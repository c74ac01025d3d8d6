// The README documents every setting (its table equals the one generated from src/config.ts) and every command.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { settingsTable } from '../scripts/settings-table.ts';
import { buildProgram } from '../src/cli/main.ts';

const readme = fs.readFileSync(new URL('../README.md', import.meta.url), 'utf8');

test('the README settings table is the one generated from the settings definitions', () => {
  assert.ok(readme.includes(settingsTable()), 'regenerate it: node --import tsx scripts/settings-table.ts');
});

test('the README names every command and subcommand of the CLI', () => {
  for (const command of buildProgram().commands) {
    assert.ok(readme.includes(`learnhook ${command.name()}`), `learnhook ${command.name()} is not in the README`);
    for (const subcommand of command.commands) {
      assert.match(
        readme,
        new RegExp(`\\b${subcommand.name()}\\b`),
        `learnhook ${command.name()} ${subcommand.name()} is not in the README`,
      );
    }
  }
});

test('the README gives the two quick-start commands', () => {
  assert.ok(readme.includes('npm ci && npm start'));
  assert.ok(readme.includes('npm ci && npm test'));
});
