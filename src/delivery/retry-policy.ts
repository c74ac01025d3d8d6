// When to try a failed batch again: the guide's doubling backoff (5 s, 10, 20, 40, 80, 160, then every 5 min), as a pure function.

export interface RetryPolicy {
  initialMs: number;
  maxMs: number;
  /** Random spread added to each wait, in percent of it; 0 turns jitter off. */
  jitterPercent: number;
}

export function retryPolicyOf(settings: { retryInitialMs: number; retryMaxMs: number; retryJitter: number }): RetryPolicy {
  return { initialMs: settings.retryInitialMs, maxMs: settings.retryMaxMs, jitterPercent: settings.retryJitter };
}

export interface RetryInput {
  /** Failed attempts of this batch so far, the one just made included (1 after the first failure). */
  failures: number;
  /** The target's `retry-after`, in milliseconds, when it sent one with a 429 or 503. */
  retryAfterMs?: number | undefined;
  /** Uniform in [0, 1); injected so tests decide the jitter. */
  random?: () => number;
}

/** Milliseconds to wait before the next attempt. */
export function retryDelay(policy: RetryPolicy, input: RetryInput): number {
  // A target that says when to come back is believed, but never sooner than the first retry nor later than the cap.
  if (input.retryAfterMs !== undefined) return Math.min(Math.max(input.retryAfterMs, policy.initialMs), policy.maxMs);
  const exponent = Math.max(0, input.failures - 1);
  // Past 2^30 the doubling has long reached any sensible cap; stopping there keeps the number finite.
  const doubled = policy.initialMs * 2 ** Math.min(exponent, 30);
  const base = Math.min(doubled, policy.maxMs);
  if (policy.jitterPercent <= 0) return base;
  const random = input.random ?? Math.random;
  return Math.min(Math.round(base + (base * policy.jitterPercent * random()) / 100), policy.maxMs);
}

/** Reads `retry-after` as (possibly fractional) seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
