// Turns the JSON lines of a comparison into its markdown summary: medians per contender, ratios to the best peer
// taken within each run, and each goal of issue 7 with where learnhook stands.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from '../bench-kit.ts';
import type { Services } from './services.ts';
import type { Workload } from './workload.ts';

export type RunLine = Record<string, unknown> & { scenario: string; contender: string; label: string; run: number };

interface ReportInput {
  when: string;
  nproc: number;
  cpuModel?: string;
  memoryGiB: number;
  node: string;
  loadAtStart: number[];
  loadAtEnd: number[];
  services: Pick<Services, 'notes' | 'versions'>;
  workload: Workload;
  lines: RunLine[];
}

const peers = ['bullmq', 'pgboss'];
const number = (value: unknown) => (typeof value === 'number' ? value : Number.NaN);
const format = (value: number, digits = 0) =>
  Number.isFinite(value) ? value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '–';

function byContender(lines: RunLine[], scenario: string): Map<string, RunLine[]> {
  const groups = new Map<string, RunLine[]>();
  for (const line of lines.filter((candidate) => candidate.scenario === scenario)) {
    const group = groups.get(line.contender) ?? [];
    group.push(line);
    groups.set(line.contender, group);
  }
  return groups;
}

const medianOrNaN = (values: number[]) => (values.length > 0 ? median(values) : Number.NaN);
const sum = (group: RunLine[], key: string) => group.reduce((total, line) => total + number(line[key]), 0);
const medianOf = (group: RunLine[], key: string) => medianOrNaN(group.map((line) => number(line[key])));

/** Per run: the contender's events/s over the best peer's of the same run; the median of those ratios. */
export function ratioToBestPeer(lines: RunLine[], contender: string, scenario = 'throughput'): number {
  const ratios: number[] = [];
  const mine = lines.filter((line) => line.scenario === scenario && line.contender === contender);
  for (const line of mine) {
    const best = Math.max(
      ...lines
        .filter((other) => other.scenario === scenario && other.run === line.run && peers.includes(other.contender))
        .map((other) => number(other.eventsPerSecond)),
    );
    if (best > 0) ratios.push(number(line.eventsPerSecond) / best);
  }
  return ratios.length ? median(ratios) : Number.NaN;
}

function goal(label: string, value: number, target: number, unit: string, higherIsBetter = true): string {
  if (!Number.isFinite(value)) return `| ${label} | ${higherIsBetter ? '≥' : '<'} ${format(target, 2)}${unit} | not measured | – |`;
  const met = higherIsBetter ? value >= target : value < target;
  const gap = higherIsBetter ? `${format((value / target) * 100)} % of the goal` : `${format(value / target, 2)}× the limit`;
  return `| ${label} | ${higherIsBetter ? '≥' : '<'} ${format(target, 2)}${unit} | ${format(value, 2)}${unit} | ${met ? 'met' : `missed (${gap})`} |`;
}

/**
 * What the dead endpoint costs each healthy account, per run: 1 − its events/s per healthy account over the same
 * contender's throughput run of that run (all accounts healthy; one of each pair runs right after the other). A run's
 * events/s counts the healthy accounts only, so it is taken per account. Runs without a pair are left out.
 */
export function deadEndpointCosts(lines: RunLine[], contender: string): number[] {
  const perAccount = (line: RunLine) => number(line.eventsPerSecond) / number(line.healthyAccounts ?? line.accounts);
  const costs: number[] = [];
  for (const dead of lines.filter((line) => line.scenario === 'dead' && line.contender === contender)) {
    const healthy = lines.find((line) => line.scenario === 'throughput' && line.contender === contender && line.run === dead.run);
    if (healthy) costs.push(1 - perAccount(dead) / perAccount(healthy));
  }
  return costs.filter(Number.isFinite);
}

export function renderReport(input: ReportInput): string {
  const { lines } = input;
  const out: string[] = [];
  out.push(`## Results of ${input.when}`, '');
  out.push(
    `Machine: ${input.nproc} cores (${input.cpuModel ?? 'unknown CPU'}), ${input.memoryGiB} GiB, Node ${input.node}, ` +
      `PostgreSQL ${input.services.versions.postgres}, Redis ${input.services.versions.redis}. ` +
      `Load average ${input.loadAtStart.join(' / ')} (1/5/15 min) at the start, ${input.loadAtEnd.join(' / ')} at the end.`,
    '',
  );
  for (const note of input.services.notes) out.push(`- ${note}`);
  out.push('');

  const throughput = byContender(lines, 'throughput');
  if (throughput.size > 0) {
    out.push(
      `### Throughput: ${input.workload.accounts} accounts × ${input.workload.eventsPerAccount} events, bursts of ${input.workload.burst}`,
      '',
      '| contender | events/s end to end (median) | runs | × best peer (same run) | p50 / p99 ms | order violations | duplicates | lost |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const [contender, group] of throughput) {
      const ratio = peers.includes(contender) ? Number.NaN : ratioToBestPeer(lines, contender);
      out.push(
        `| ${group[0]?.label} | ${format(medianOf(group, 'eventsPerSecond'))} | ${group.map((line) => format(number(line.eventsPerSecond))).join(', ')} | ${format(ratio, 2)} | ${format(medianOf(group, 'p50Ms'))} / ${format(medianOf(group, 'p99Ms'))} | ${format(sum(group, 'orderViolations'))} | ${format(sum(group, 'duplicates'))} | ${format(sum(group, 'lost'))} |`,
      );
    }
    out.push('');
  }

  const paced = byContender(lines, 'paced');
  if (paced.size > 0) {
    const first = [...paced.values()][0]?.[0];
    out.push(
      `### Paced at ${first?.rate} events/s for ${first?.pacedSeconds} s (latency publish → receipt)`,
      '',
      '| contender | p50 ms (median) | p99 ms (median) | p99 per run | order violations | lost |',
      '|---|---:|---:|---:|---:|---:|',
    );
    for (const [, group] of paced) {
      out.push(
        `| ${group[0]?.label} | ${format(medianOf(group, 'p50Ms'), 1)} | ${format(medianOf(group, 'p99Ms'), 1)} | ${group.map((line) => format(number(line.p99Ms), 1)).join(', ')} | ${format(sum(group, 'orderViolations'))} | ${format(sum(group, 'lost'))} |`,
      );
    }
    out.push('');
  }

  const dead = byContender(lines, 'dead');
  if (dead.size > 0) {
    out.push(
      `### One dead endpoint (accepts, never answers) beside ${input.workload.accounts - 1} healthy ones`,
      '',
      `| contender | healthy events/s (${input.workload.accounts - 1} accounts) | events/s, all ${input.workload.accounts} healthy (the paired throughput runs) | cost to each healthy account (median) | per run | order violations | lost (healthy) |`,
      '|---|---:|---:|---:|---:|---:|---:|',
    );
    for (const [contender, group] of dead) {
      const paired = (throughput.get(contender) ?? []).filter((line) => group.some((other) => other.run === line.run));
      const costs = deadEndpointCosts(lines, contender);
      out.push(
        `| ${group[0]?.label} | ${format(medianOf(group, 'eventsPerSecond'))} | ${format(medianOf(paired, 'eventsPerSecond'))} | ${format(medianOrNaN(costs) * 100, 1)} % | ${costs.map((cost) => `${format(cost * 100, 1)} %`).join(', ')} | ${format(sum(group, 'orderViolations'))} | ${format(sum(group, 'lost'))} |`,
      );
    }
    out.push('');
  }

  const backlog = byContender(lines, 'backlog');
  if (backlog.size > 0) {
    out.push(
      '### Backlog drained (published with delivery off, then one `serve` drains it)',
      '',
      '| contender | backlog | drain events/s | drain s | RSS peak MiB | RSS median MiB | order violations | duplicates | lost |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const line of [...backlog.values()].flat()) {
      out.push(
        `| ${line.label} | ${format(number(line.backlog))} | ${format(number(line.eventsPerSecond))} | ${format(number(line.drainSeconds), 1)} | ${format(number(line.rssPeakMiB))} | ${format(number(line.rssMedianMiB))} | ${format(number(line.orderViolations))} | ${format(number(line.duplicates))} | ${format(number(line.lost))} |`,
      );
    }
    out.push('');
  }

  out.push('### Goals of issue 7 measured here', '', '| goal | target | measured | status |', '|---|---:|---:|---|');
  out.push(goal('SQLite, batch 100: × best peer', ratioToBestPeer(lines, 'learnhook-sqlite-batch100'), 5, '×'));
  out.push(goal('PostgreSQL, batch 100: × best peer', ratioToBestPeer(lines, 'learnhook-postgres-batch100'), 3, '×'));
  out.push(goal('SQLite, batch 1: × best peer', ratioToBestPeer(lines, 'learnhook-sqlite-batch1'), 2, '×'));
  out.push(goal('PostgreSQL, batch 1: × best peer', ratioToBestPeer(lines, 'learnhook-postgres-batch1'), 1, '×'));
  const learnhookLines = lines.filter((line) => line.contender.startsWith('learnhook'));
  const violations = sum(learnhookLines, 'orderViolations');
  // The dead scenario's ledger expects the healthy accounts only: its losses are healthy events too.
  const lost = sum(learnhookLines, 'lost');
  out.push(`| learnhook: order violations, every run | 0 | ${format(violations)} | ${violations === 0 ? 'met' : 'missed'} |`);
  out.push(`| learnhook: lost events, every run | 0 | ${format(lost)} | ${lost === 0 ? 'met' : 'missed'} |`);
  const pacedP99 = (name: string) => medianOrNaN((paced.get(name) ?? []).map((line) => number(line.p99Ms)));
  out.push(goal('Paced: SQLite p99 ÷ BullMQ p99', pacedP99('learnhook-sqlite-batch100') / pacedP99('bullmq'), 1, '×', false));
  out.push(goal('Paced: PostgreSQL p99', pacedP99('learnhook-postgres-batch100'), 30, ' ms', false));
  for (const store of ['sqlite', 'postgres']) {
    const name = `learnhook-${store}-batch100`;
    if (dead.has(name))
      out.push(goal(`Dead endpoint's cost to the healthy (${store})`, medianOrNaN(deadEndpointCosts(lines, name)) * 100, 5, ' %', false));
    // The largest backlog drained is the one the goal speaks of.
    const backlogLine = [...(backlog.get(name) ?? [])].sort((a, b) => number(b.backlog) - number(a.backlog))[0];
    // The issue's limit is 300 MB (10^6 bytes): 286 MiB.
    if (backlogLine)
      out.push(
        goal(
          `Backlog of ${format(number(backlogLine.backlog))}: RSS peak (${store})`,
          (number(backlogLine.rssPeakMiB) * 2 ** 20) / 1e6,
          300,
          ' MB',
          false,
        ),
      );
  }
  out.push('');
  return out.join('\n');
}

/** Reads the JSON lines of one or more comparison runs (the first file's machine line describes the machine). */
export function readResults(files: readonly string[]): { machine: Record<string, unknown> | undefined; lines: RunLine[] } {
  const all = files.flatMap((file) =>
    fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line.trim().length > 0)
      .map((line) => JSON.parse(line) as RunLine),
  );
  return { machine: all.find((line) => line.scenario === 'machine'), lines: all.filter((line) => line.scenario !== 'machine') };
}

// `node --import tsx bench/compare/report.ts RESULTS.jsonl…` renders the summary again, e.g. of runs made in parts.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { machine, lines } = readResults(process.argv.slice(2));
  if (!machine) throw new Error('no machine line in the given results');
  const loads = lines.map((line) => Number(line.load1)).filter(Number.isFinite);
  process.stdout.write(
    renderReport({
      when: String(machine.when),
      nproc: Number(machine.nproc),
      cpuModel: String(machine.cpuModel),
      memoryGiB: Number(machine.memoryGiB),
      node: String(machine.node),
      loadAtStart: machine.loadAtStart as number[],
      loadAtEnd: [loads.at(-1) ?? Number.NaN],
      services: { notes: machine.services as string[], versions: { redis: String(machine.redis), postgres: String(machine.postgres) } },
      workload: machine.workload as Workload,
      lines,
    }),
  );
}
