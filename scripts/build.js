// Compiles src/ into dist/ (what bin/learnhook.js runs), copies the files that are not TypeScript (SQL migrations,
// the dashboard's static files) beside them, and stamps the build so the launcher can tell when sources changed after it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'src');
const target = path.join(root, 'dist');

// A clean build: a file deleted from src/ must not live on in dist/.
fs.rmSync(target, { recursive: true, force: true });
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const compiled = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (compiled.status !== 0) {
  fs.rmSync(target, { recursive: true, force: true });
  console.error('learnhook build: tsc failed; dist/ removed so nothing stale runs');
  process.exit(compiled.status ?? 1);
}

function copyAssets(folder) {
  for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
    const from = path.join(folder, entry.name);
    if (entry.isDirectory()) copyAssets(from);
    else if (!entry.name.endsWith('.ts')) {
      const to = path.join(target, path.relative(source, from));
      fs.mkdirSync(path.dirname(to), { recursive: true });
      fs.copyFileSync(from, to);
    }
  }
}
copyAssets(source);
fs.writeFileSync(path.join(target, '.built'), `${new Date().toISOString()}\n`);
