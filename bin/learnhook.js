#!/usr/bin/env node
// The learnhook command. Runs the compiled JavaScript in dist/ (built by `npm ci`/`npm run build`) when it is at least
// as new as every file under src/; otherwise (no build yet, or sources edited since) runs the sources through tsx.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Newest change under a folder: files and folders both (deleting a file changes its folder's time). */
function newestChange(folder) {
  let newest = fs.statSync(folder).mtimeMs;
  for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
    const full = path.join(folder, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestChange(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

function builtIsCurrent() {
  if (process.env.LEARNHOOK_FROM_SOURCES === '1') return false;
  let built;
  try {
    built = fs.statSync(path.join(root, 'dist', '.built')).mtimeMs;
  } catch {
    return false;
  }
  // An installed package may ship without src/: then dist/ is all there is.
  return !fs.existsSync(path.join(root, 'src')) || newestChange(path.join(root, 'src')) <= built;
}

let entry;
if (builtIsCurrent()) entry = path.join(root, 'dist', 'cli', 'main.js');
else {
  const { register } = await import('tsx/esm/api');
  register();
  entry = path.join(root, 'src', 'cli', 'main.ts');
}
const { main } = await import(pathToFileURL(entry).href);
await main(process.argv);
