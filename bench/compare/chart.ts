// Draws a comparison's results as an SVG (no dependencies): median events/s end to end per contender, and the paced
// run's p99 latency. `node --import tsx bench/compare/chart.ts RESULTS.jsonl… OUT.svg`
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from '../bench-kit.ts';
import { type RunLine, readResults } from './report.ts';

interface Bar {
  label: string;
  value: number;
  family: string;
}

const colours: Record<string, string> = { pipe: '#9e9e9e', bullmq: '#d9534f', pgboss: '#f0ad4e', learnhook: '#2e7d32' };

function xmlText(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

function familyOf(contender: string): string {
  return contender.split('-')[0] ?? contender;
}

/** Median of `key` per contender of a scenario, in the order the contenders first appear. */
export function bars(lines: readonly RunLine[], scenario: string, key: string): Bar[] {
  const groups = new Map<string, RunLine[]>();
  for (const line of lines.filter((candidate) => candidate.scenario === scenario)) {
    groups.set(line.contender, [...(groups.get(line.contender) ?? []), line]);
  }
  return [...groups.entries()].map(([contender, group]) => ({
    label: String(group[0]?.label ?? contender),
    value: median(group.map((line) => Number(line[key]))),
    family: familyOf(contender),
  }));
}

/** One horizontal bar panel; a log scale when the values span more than two orders of magnitude. */
function panel(title: string, unit: string, data: Bar[], top: number, width: number): { svg: string; height: number } {
  const labelWidth = 330;
  const barHeight = 22;
  const gap = 8;
  const plotWidth = width - labelWidth - 110;
  const max = Math.max(...data.map((bar) => bar.value), 1);
  const min = Math.max(Math.min(...data.map((bar) => bar.value).filter((value) => value > 0)), 0.1);
  const logScale = max / min > 100;
  const scale = (value: number) =>
    logScale ? (Math.log10(Math.max(value, min / 2) / (min / 2)) / Math.log10(max / (min / 2))) * plotWidth : (value / max) * plotWidth;
  const parts = [
    `<text x="10" y="${top + 18}" font-size="15" font-weight="bold">${xmlText(title)}${logScale ? ' (log scale)' : ''}</text>`,
  ];
  data.forEach((bar, index) => {
    const y = top + 32 + index * (barHeight + gap);
    const length = Math.max(1, scale(bar.value));
    parts.push(
      `<text x="${labelWidth - 8}" y="${y + 15}" font-size="12" text-anchor="end">${xmlText(bar.label)}</text>`,
      `<rect x="${labelWidth}" y="${y}" width="${length.toFixed(1)}" height="${barHeight}" fill="${colours[bar.family] ?? '#607d8b'}"/>`,
      `<text x="${(labelWidth + length + 6).toFixed(1)}" y="${y + 15}" font-size="12">${Math.round(bar.value).toLocaleString('en-US')} ${xmlText(unit)}</text>`,
    );
  });
  return { svg: parts.join('\n'), height: 40 + data.length * (barHeight + gap) };
}

export function chart(lines: readonly RunLine[], subtitle: string): string {
  const width = 900;
  const panels: string[] = [];
  let top = 40;
  const throughput = bars(lines, 'throughput', 'eventsPerSecond');
  if (throughput.length > 0) {
    const drawn = panel('Events per second end to end (median, higher is better)', 'events/s', throughput, top, width);
    panels.push(drawn.svg);
    top += drawn.height + 20;
  }
  const paced = bars(lines, 'paced', 'p99Ms');
  if (paced.length > 0) {
    const drawn = panel('Paced at 500 events/s: p99 latency publish → receipt (lower is better)', 'ms', paced, top, width);
    panels.push(drawn.svg);
    top += drawn.height + 20;
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" role="img" width="${width}" height="${top}" viewBox="0 0 ${width} ${top}" font-family="sans-serif">`,
    `<title>learnhook against BullMQ, pg-boss and the undici pipe: events per second end to end, and paced p99 latency</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="24" font-size="13" fill="#555">${xmlText(subtitle)}</text>`,
    ...panels,
    '</svg>',
    '',
  ].join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const output = process.argv.at(-1);
  if (process.argv.length < 4 || !output?.endsWith('.svg')) throw new Error('usage: chart.ts RESULTS.jsonl… OUT.svg');
  const { machine, lines } = readResults(process.argv.slice(2, -1));
  const subtitle = machine
    ? `npm run bench:compare, ${String(machine.when).slice(0, 16)} UTC, ${machine.nproc} shared cores, load ${(machine.loadAtStart as number[])?.[0]} at start: noisy`
    : 'npm run bench:compare';
  fs.writeFileSync(output, chart(lines, subtitle));
  process.stdout.write(`wrote ${output}\n`);
}
