// The README reads in five minutes and links the reference in docs/: the settings page equals the table generated from
// src/config.ts, docs/cli.md shows every command and subcommand with an example, and every local link resolves.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { Command } from 'commander';
import { settingsTable } from '../scripts/settings-table.ts';
import { buildProgram } from '../src/cli/main.ts';
import { root } from './support/cli.ts';

const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');
const readme = read('README.md');
const docs = fs.readdirSync(path.join(root, 'docs')).filter((file) => file.endsWith('.md'));

test('docs/settings.md has the settings table generated from the settings definitions', () => {
  assert.ok(read('docs/settings.md').includes(settingsTable()), 'regenerate it: node --import tsx scripts/settings-table.ts');
});

test('docs/cli.md shows every command and subcommand of the CLI in an example', () => {
  const cli = read('docs/cli.md');
  const walk = (command: Command, prefix: string): void => {
    for (const child of command.commands) {
      if (child.name() === 'help') continue;
      const name = `${prefix} ${child.name()}`;
      assert.match(cli, new RegExp(`^(\\S+=\\S+ )*(npx )?${name}\\b`, 'm'), `docs/cli.md has no example line starting with "${name}"`);
      walk(child, name);
    }
  };
  walk(buildProgram(), 'learnhook');
});

test('the README is a five-minute read with the two commands, and links every docs page', () => {
  assert.ok(Buffer.byteLength(readme) < 12_000, `README.md is ${Buffer.byteLength(readme)} bytes; move reference material to docs/`);
  assert.ok(readme.includes('npm ci && npm start'));
  assert.ok(readme.includes('npm ci && npm test'));
  for (const page of docs) assert.ok(readme.includes(`](docs/${page})`), `README.md does not link docs/${page}`);
});

test('every local link in the README and docs/ points at a file that exists', () => {
  for (const file of ['README.md', ...docs.map((page) => `docs/${page}`)]) {
    for (const match of read(file).matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
      const target = match[1]!;
      if (/^[a-z]+:/.test(target)) continue;
      // Screenshots are taken by the browser tests; they may land after the text that shows them.
      if (target.startsWith('docs/screenshots/')) continue;
      assert.ok(fs.existsSync(path.join(root, path.dirname(file), target)), `${file} links ${target}, which does not exist`);
    }
  }
});
