// Runs every *.test.ts under src/ and test/ with Node's test runner (Node 20 does not expand globs itself).
// Extra arguments narrow the run: `npm run test:only -- src/catalog` runs the files under that path.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const roots = ['src', 'test'];
const filters = process.argv.slice(2).filter((argument) => !argument.startsWith('--'));
const passThrough = process.argv.slice(2).filter((argument) => argument.startsWith('--'));

function findTests(folder) {
  if (!fs.existsSync(folder)) return [];
  return fs.readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : findTests(full);
    return entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

const files = roots
  .flatMap(findTests)
  .filter((file) => filters.length === 0 || filters.some((filter) => file.startsWith(path.normalize(filter))))
  .sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
// The runner leads its own process group: whatever a test started and did not stop (a test that timed out skips its
// cleanup: a server, a private PostgreSQL cluster) is stopped with it instead of running on after the suite.
const runner = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=180000', ...passThrough, ...files],
  { stdio: 'inherit', detached: true },
);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => runner.kill(signal));
const signalGroup = (signal) => {
  try {
    process.kill(-runner.pid, signal);
    return true;
  } catch {
    return false; // the group is empty: everything has ended
  }
};
runner.on('exit', async (code) => {
  if (signalGroup('SIGTERM')) {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    signalGroup('SIGKILL');
  }
  process.exit(code ?? 1);
});
