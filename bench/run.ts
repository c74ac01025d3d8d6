// Runs every bench/*.bench.ts in turn and prints one JSON document with all results (each with its baseline).
// `npm run bench -- delivery` runs only the files whose name contains "delivery".
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Bench, BenchResult } from './bench-kit.ts';

const folder = path.dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2];
const files = fs
  .readdirSync(folder)
  .filter((file) => file.endsWith('.bench.ts') && (!filter || file.includes(filter)))
  .sort();
const results: BenchResult[] = [];
for (const file of files) {
  process.stderr.write(`running ${file}…\n`);
  const module = (await import(pathToFileURL(path.join(folder, file)).href)) as { run: Bench };
  results.push(...(await module.run()));
}
const report = {
  when: new Date().toISOString(),
  machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
  results,
};
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
