// The public read API's rate limit (SPEC §6: 500 per hour per token by default), counted in the database for the whole cluster.
import { sql } from 'kysely';
import type { ProducerContext } from '../context.ts';
import { hashToken } from '../secrets/account-token.ts';
import type { Database } from '../store/database.ts';
import type { ProducerSchema } from '../store/schema.ts';

export interface RateRules {
  /** Requests a token may make per window. */
  limit: number;
  windowMs: number;
}

/** A token's current window: when it opened (at the first request after the previous one ended) and its requests so far. */
export interface RateWindow {
  windowStart: number;
  /** Every request counted in the window, this one included; those past `limit` were refused. */
  requests: number;
}

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** When refused: milliseconds until the window ends and the token's budget is whole again. */
  retryAfterMs: number;
}

/**
 * How a request is answered, from its token's window once it is counted in it. A window opens at a token's first
 * request, so a client that keeps to `limit` calls in any span of `windowMs` (the mirror's enricher does) is never
 * refused; a client may make up to twice the limit across the end of one window and the start of the next.
 */
export function rateDecision(window: RateWindow, rules: RateRules, now: number): RateDecision {
  const allowed = window.requests <= rules.limit;
  // A window opened by a process whose clock runs ahead still ends within one window from here.
  const retryAfterMs = allowed ? 0 : Math.min(rules.windowMs, Math.max(1, window.windowStart + rules.windowMs - now));
  return { allowed, limit: rules.limit, remaining: Math.max(0, rules.limit - window.requests), retryAfterMs };
}

/**
 * Counts one request of a token (by its key) at `now` in one statement: a window that has ended is opened again at
 * `now`. The row lock of the upsert serialises the processes counting the same token; no row per request is kept.
 */
export async function countRequest(
  database: Database<ProducerSchema>,
  tokenKey: string,
  rules: RateRules,
  now: number,
): Promise<RateWindow> {
  const ended = sql<boolean>`api_rate_windows.window_start <= ${now - rules.windowMs}`;
  const row = await database.db
    .insertInto('api_rate_windows')
    .values({ token_key: tokenKey, window_start: now, requests: 1 })
    .onConflict((conflict) =>
      conflict.column('token_key').doUpdateSet({
        window_start: sql<number>`CASE WHEN ${ended} THEN ${now} ELSE api_rate_windows.window_start END`,
        requests: sql<number>`CASE WHEN ${ended} THEN 1 ELSE api_rate_windows.requests + 1 END`,
      }),
    )
    .returning(['window_start', 'requests'])
    .executeTakeFirstOrThrow();
  return { windowStart: row.window_start, requests: row.requests };
}

/** Deletes the windows that have ended: a token without a row starts a fresh window, exactly as one with an ended window. */
export async function pruneRateWindows(database: Database<ProducerSchema>, rules: RateRules, now: number): Promise<number> {
  const deleted = await database.db
    .deleteFrom('api_rate_windows')
    .where('window_start', '<=', now - rules.windowMs)
    .executeTakeFirst();
  return Number(deleted.numDeletedRows);
}

/** The limiter of one serve process: counts in the shared table, and prunes it at most once a window. */
export class RateLimiter {
  readonly #rules: RateRules;
  #prunedAt = Number.NEGATIVE_INFINITY;
  constructor(private readonly context: ProducerContext) {
    this.#rules = { limit: context.settings.apiRateLimit, windowMs: context.settings.apiRateWindowMs };
  }

  /** Counts a request of `token` at `now`, and says whether it may proceed. */
  async take(token: string, now: number): Promise<RateDecision> {
    if (now - this.#prunedAt >= this.#rules.windowMs) {
      this.#prunedAt = now;
      // One more statement once a window, awaited so that nothing is left running when the server closes.
      await pruneRateWindows(this.context.database, this.#rules, now);
    }
    const window = await countRequest(this.context.database, hashToken(token), this.#rules, now);
    return rateDecision(window, this.#rules, now);
  }
}
