// What every benchmark file shares: the result shape and the median (kept apart from run.ts, which runs on import).

/** One measurement. `baseline` names the comparison measured in the same run, where there is one. */
export interface BenchResult {
  name: string;
  store?: 'sqlite' | 'postgres';
  unit: string;
  /** Median of the repetitions. */
  median: number;
  samples: number[];
  baseline?: { name: string; median: number; samples: number[] };
  /** median / baseline median, where a baseline exists. */
  ratio?: number;
  notes?: string;
}

export type Bench = () => Promise<BenchResult[]>;

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}
