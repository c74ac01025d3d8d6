// Summarises V8 .cpuprofile files (node --cpu-prof): self time by function and by module, in percent of the
// process's busy time (idle excluded). `node --import tsx bench/compare/profile-summary.ts FILE|FOLDER…` prints markdown.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const repository = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ProfileSummary {
  files: number;
  /** Wall time covered by the profiles, in seconds. */
  seconds: number;
  /** Share of samples not idle. */
  busy: number;
  functions: { name: string; percent: number }[];
  modules: { name: string; percent: number }[];
}

/** Where a frame's code lives: a package, a learnhook source file, Node's internals or V8's own buckets. */
export function moduleOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const packageMatch = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (packageMatch) return `npm:${packageMatch[1]}`;
  if (url.startsWith('node:')) return url.replace(/^node:internal\/.*/, 'node:internal');
  const file = url.replace(/^file:\/\//, '');
  return file.startsWith(`${repository}/`) ? file.slice(repository.length + 1) : url;
}

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url ? `${moduleOf(url, functionName)}:${lineNumber + 1}` : '';
  return `${functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
}

/** `lastSeconds` keeps only the samples of the profile's last seconds (the measured phase, not start-up). */
export function summarise(files: readonly string[], top = 15, lastSeconds = Number.POSITIVE_INFINITY): ProfileSummary {
  const byFunction = new Map<string, number>();
  const byModule = new Map<string, number>();
  let busyMicros = 0;
  let allMicros = 0;
  let seconds = 0;
  for (const file of files) {
    const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
    const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
    const from = Math.max(profile.startTime, profile.endTime - lastSeconds * 1e6);
    seconds += (profile.endTime - from) / 1e6;
    let at = profile.startTime;
    for (const [index, id] of profile.samples.entries()) {
      at += profile.timeDeltas[index] ?? 0;
      if (at < from) continue;
      const micros = profile.timeDeltas[index + 1] ?? profile.timeDeltas[index] ?? 0;
      const node = nodes.get(id);
      if (!node) continue;
      allMicros += micros;
      if (node.callFrame.functionName === '(idle)') continue;
      busyMicros += micros;
      const name = frameName(node);
      byFunction.set(name, (byFunction.get(name) ?? 0) + micros);
      const module = moduleOf(node.callFrame.url, node.callFrame.functionName);
      byModule.set(module, (byModule.get(module) ?? 0) + micros);
    }
  }
  const ranked = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, micros]) => ({ name, percent: Number(((micros / Math.max(1, busyMicros)) * 100).toFixed(1)) }));
  return {
    files: files.length,
    seconds: Number(seconds.toFixed(1)),
    busy: Number((busyMicros / Math.max(1, allMicros)).toFixed(3)),
    functions: ranked(byFunction),
    modules: ranked(byModule),
  };
}

export function profileFiles(target: string): string[] {
  if (!fs.statSync(target).isDirectory()) return [target];
  return fs
    .readdirSync(target, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.cpuprofile'))
    .map((name) => path.join(target, name));
}

export function summaryMarkdown(title: string, summary: ProfileSummary): string {
  const lines = [
    `#### ${title}`,
    '',
    `${summary.files} profile(s), ${summary.seconds} s, busy ${(summary.busy * 100).toFixed(0)} % of the time; self time in % of busy time.`,
    '',
    '| module | self % |',
    '|---|---:|',
    ...summary.modules.map((entry) => `| ${entry.name} | ${entry.percent} |`),
    '',
    '| function | self % |',
    '|---|---:|',
    ...summary.functions.map((entry) => `| \`${entry.name}\` | ${entry.percent} |`),
    '',
  ];
  return lines.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const target of process.argv.slice(2)) {
    process.stdout.write(`${summaryMarkdown(target, summarise(profileFiles(target)))}\n`);
  }
}
