// The public read API's rate limit: a sliding window of request times per token (SPEC §6: 500 per hour by default).

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** When refused: milliseconds until the oldest request of the window leaves it and a slot frees. */
  retryAfterMs: number;
}

/** Remembers, per token, when its requests of the current window came; one instance per process. */
export class RateLimiter {
  readonly #requests = new Map<string, number[]>();
  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Counts a request of `token` at `now` if a slot is free, and says whether it may proceed. */
  take(token: string, now: number): RateDecision {
    const times = (this.#requests.get(token) ?? []).filter((time) => time > now - this.windowMs);
    if (times.length >= this.limit) {
      this.#requests.set(token, times);
      const oldest = times[0] ?? now;
      return { allowed: false, limit: this.limit, remaining: 0, retryAfterMs: Math.max(1, oldest + this.windowMs - now) };
    }
    times.push(now);
    this.#requests.set(token, times);
    return { allowed: true, limit: this.limit, remaining: this.limit - times.length, retryAfterMs: 0 };
  }
}
