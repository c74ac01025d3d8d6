// Info-level lines that show flow without drowning the log: the first occurrence at once, then one summary per
// interval with the counts since the last line (serve: deliveries; mirror: applied batches and refused deliveries).
import type { Logger } from 'pino';

export interface FlowLog {
  /** Counts one occurrence of `kind`; logs at once when it is the first of its kind in an interval. */
  count(kind: string, amounts: Record<string, number>, example?: string): void;
  /** Writes the pending summaries now (on stop). */
  flush(): void;
  stop(): void;
}

interface Pending {
  occurrences: number;
  amounts: Record<string, number>;
  example?: string;
}

/**
 * `describe(kind, occurrences, amounts, example)` words one line. Kinds logged within the interval are summed and
 * written when it ends; a quiet interval writes nothing.
 */
export function createFlowLog(
  logger: Logger,
  intervalMs: number,
  describe: (
    kind: string,
    occurrences: number,
    amounts: Record<string, number>,
    example?: string,
  ) => { level: 'info' | 'warn'; line: string },
): FlowLog {
  const pending = new Map<string, Pending>();
  const lastLogged = new Map<string, number>();
  const write = (kind: string, entry: Pending) => {
    const { level, line } = describe(kind, entry.occurrences, entry.amounts, entry.example);
    logger[level]({ kind, occurrences: entry.occurrences, ...entry.amounts }, line);
  };
  const flush = () => {
    for (const [kind, entry] of pending) write(kind, entry);
    pending.clear();
  };
  const timer = setInterval(flush, intervalMs);
  timer.unref();
  return {
    count(kind, amounts, example) {
      const now = Date.now();
      if (now - (lastLogged.get(kind) ?? 0) >= intervalMs && !pending.has(kind)) {
        // First of its kind for a while: say it at once, so a user sees the flow start.
        lastLogged.set(kind, now);
        write(kind, { occurrences: 1, amounts, ...(example ? { example } : {}) });
        return;
      }
      lastLogged.set(kind, now);
      const entry = pending.get(kind) ?? { occurrences: 0, amounts: {} };
      entry.occurrences++;
      for (const [name, amount] of Object.entries(amounts)) entry.amounts[name] = (entry.amounts[name] ?? 0) + amount;
      if (example && !entry.example) entry.example = example;
      pending.set(kind, entry);
    },
    flush,
    stop() {
      clearInterval(timer);
      flush();
    },
  };
}
