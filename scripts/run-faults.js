// `npm run test:faults`: the long fault run (docs/faults.md). Longer windows, more kills and fuzz runs than the short
// form in `npm test`, a fresh seed unless one is given; every knob is an environment variable.
import { spawnSync } from 'node:child_process';

const defaults = {
  LEARNHOOK_FAULTS_SEED: String(Math.floor(Math.random() * 2 ** 31)),
  LEARNHOOK_FAULTS_DURATION_MS: '45000',
  LEARNHOOK_FAULTS_KILLS: '3',
  LEARNHOOK_FAULTS_SETTLE_MS: '90000',
  LEARNHOOK_FAULTS_RUNS: '10',
  LEARNHOOK_FAULTS_PG_RESTART: 'true',
  LEARNHOOK_FAULTS_KNOWN: 'run',
};
const env = { ...defaults, ...process.env };
const knobs = Object.keys(defaults).map((name) => `${name}=${env[name]}`);
console.log(`learnhook fault run: ${knobs.join(' ')} (replay a run with the same seed)`);
// The processes it kills and restarts run the compiled build when it is current (docs/development.md): build first.
const built = spawnSync(process.execPath, ['scripts/build.js'], { stdio: 'inherit', env });
if (built.status !== 0) process.exit(built.status ?? 1);
const result = spawnSync(process.execPath, ['scripts/run-tests.js', 'test/faults', '--test-timeout=600000'], { stdio: 'inherit', env });
process.exit(result.status ?? 1);
