// What the receiver keeps per account: which events arrived, in what order, how late. Pure: tested without a network.
import type { Trace } from './workload.ts';

export interface LedgerSummary {
  /** Distinct expected events received. */
  received: number;
  /** Deliveries of an event that had already arrived. */
  duplicates: number;
  /** Events that arrived after a later event of the same account. */
  orderViolations: number;
  /** Expected events never received. */
  lost: number;
  /** Events received that were not expected (unknown account or number). */
  unexpected: number;
  firstPublishedAt: number;
  lastReceivedAt: number;
  latencyMs: { p50: number; p99: number; max: number };
  /** Expected events per account; `received` and `lost` count only these. */
  expectedPerAccount: Record<number, number>;
}

interface AccountLedger {
  seen: Uint8Array;
  highest: number;
  expected: number;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: Float64Array | readonly number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

export class Ledger {
  #accounts = new Map<number, AccountLedger>();
  #latencies: Float64Array;
  #latencyCount = 0;
  #received = 0;
  #duplicates = 0;
  #orderViolations = 0;
  #unexpected = 0;
  #firstPublishedAt = Number.POSITIVE_INFINITY;
  #lastReceivedAt = 0;
  #target = 0;

  /** `expected` maps each bench account to how many events (numbered 0…count-1) it should receive. */
  constructor(expected: Record<number, number>) {
    let total = 0;
    for (const [account, count] of Object.entries(expected)) {
      this.#accounts.set(Number(account), { seen: new Uint8Array(count), highest: -1, expected: count });
      total += count;
    }
    this.#target = total;
    this.#latencies = new Float64Array(total);
  }

  /** Whether every expected event has arrived. */
  get complete(): boolean {
    return this.#received >= this.#target;
  }

  get received(): number {
    return this.#received;
  }

  record(trace: Trace, receivedAt: number): void {
    const account = this.#accounts.get(trace.account);
    if (!account || !Number.isInteger(trace.n) || trace.n < 0 || trace.n >= account.expected) {
      this.#unexpected++;
      return;
    }
    if (account.seen[trace.n]) {
      this.#duplicates++;
      return;
    }
    account.seen[trace.n] = 1;
    this.#received++;
    // Out of order: a later event of the account arrived first (each is counted once, when it arrives late).
    if (trace.n < account.highest) this.#orderViolations++;
    else account.highest = trace.n;
    if (trace.publishedAt < this.#firstPublishedAt) this.#firstPublishedAt = trace.publishedAt;
    if (receivedAt > this.#lastReceivedAt) this.#lastReceivedAt = receivedAt;
    this.#latencies[this.#latencyCount++] = receivedAt - trace.publishedAt;
  }

  summary(): LedgerSummary {
    const latencies = this.#latencies.slice(0, this.#latencyCount).sort();
    const expectedPerAccount: Record<number, number> = {};
    for (const [account, ledger] of this.#accounts) expectedPerAccount[account] = ledger.expected;
    return {
      received: this.#received,
      duplicates: this.#duplicates,
      orderViolations: this.#orderViolations,
      lost: this.#target - this.#received,
      unexpected: this.#unexpected,
      firstPublishedAt: this.#firstPublishedAt,
      lastReceivedAt: this.#lastReceivedAt,
      latencyMs: { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), max: latencies[latencies.length - 1] ?? Number.NaN },
      expectedPerAccount,
    };
  }
}
