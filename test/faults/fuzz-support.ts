// What the HTTP fuzzer checks on every answer, and a store-wide snapshot to prove a refused request wrote nothing.
import { createHash } from 'node:crypto';
import type { RouteOptions } from 'fastify';
import { sql } from 'kysely';
import type { Database } from '../../src/store/database.ts';

/**
 * The knobs of a fuzz run, from the environment: `npm test` uses a fixed seed so CI is repeatable; `npm run
 * test:faults` draws a seed (printed) and raises the runs.
 */
export const fuzzRuns = Number(process.env.LEARNHOOK_FAULTS_RUNS ?? 4);
export const fuzzSeed = Number(process.env.LEARNHOOK_FAULTS_SEED ?? 1);

export interface FuzzedRoute {
  method: string;
  url: string;
  params: string[];
  query: string[];
  hasBody: boolean;
}

/** One route as registered (HEAD copies of GET routes are left out: same handler). */
export function routesOf(collected: RouteOptions[]): FuzzedRoute[] {
  const routes: FuzzedRoute[] = [];
  for (const route of collected) {
    for (const method of [route.method].flat()) {
      if (method === 'HEAD') continue;
      const schema = (route.schema ?? {}) as { querystring?: { properties?: object }; body?: unknown };
      routes.push({
        method,
        url: route.url,
        params: [...route.url.matchAll(/:(\w+)/g)].map((match) => match[1] as string),
        query: Object.keys(schema.querystring?.properties ?? {}),
        hasBody: method === 'POST' || method === 'PATCH' || method === 'PUT',
      });
    }
  }
  return routes;
}

/** Every row of every table, hashed per table: equal snapshots mean nothing was written. */
export async function storeSnapshot(database: Database<unknown>): Promise<Record<string, string>> {
  const snapshot: Record<string, string> = {};
  if (database.dialect === 'postgres') {
    // One round trip: the server hashes each table's rows (a snapshot per request must stay cheap).
    const names = await sql<{ name: string }>`SELECT table_name AS name FROM information_schema.tables
      WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`.execute(database.db);
    const perTable = names.rows.map(
      ({ name }) =>
        sql`SELECT ${name}::text AS name, count(*)::text AS rows, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS hash FROM ${sql.table(name)} t`,
    );
    const rows = await sql<{ name: string; rows: string; hash: string }>`${sql.join(perTable, sql` UNION ALL `)}`.execute(database.db);
    for (const row of rows.rows) snapshot[row.name] = `${row.rows}:${row.hash}`;
    return snapshot;
  }
  const names = await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`.execute(
    database.db,
  );
  for (const { name } of names.rows.sort((a, b) => a.name.localeCompare(b.name))) {
    const rows = await sql<Record<string, unknown>>`SELECT * FROM ${sql.table(name)}`.execute(database.db);
    const lines = rows.rows.map((row) => JSON.stringify(row, (_key, value) => (typeof value === 'bigint' ? String(value) : value))).sort();
    snapshot[name] = `${lines.length}:${createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16)}`;
  }
  return snapshot;
}

export interface Answer {
  statusCode: number;
  body: string;
  headers: Record<string, unknown>;
}

/** Why an answer breaks the rules (undefined when it keeps them): no 5xx, and a refusal is a 4xx with a plain message. */
export function answerProblem(answer: Answer, jsonApi: boolean): string | undefined {
  if (answer.statusCode >= 500) return `answered ${answer.statusCode}: ${answer.body.slice(0, 300)}`;
  if (answer.statusCode < 400) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(answer.body);
  } catch {
    return `refused with ${answer.statusCode} but the body is not JSON: ${answer.body.slice(0, 200)}`;
  }
  const messages: unknown[] = [];
  if (jsonApi) {
    const errors = (body as { errors?: { status?: unknown; detail?: unknown }[] }).errors;
    if (!Array.isArray(errors) || errors.length === 0)
      return `a /primeapi/v2 refusal without JSON:API errors: ${answer.body.slice(0, 200)}`;
    for (const error of errors) {
      if (error.status !== String(answer.statusCode)) return `errors[].status ${String(error.status)} is not ${answer.statusCode}`;
      messages.push(error.detail);
    }
  } else {
    const error = (body as { error?: { code?: unknown; message?: unknown } }).error;
    if (typeof error?.code !== 'string' || error.code.length === 0) return `a refusal without error.code: ${answer.body.slice(0, 200)}`;
    messages.push(error.message);
  }
  for (const message of messages) {
    if (typeof message !== 'string' || message.trim().length === 0) return `a refusal without a message: ${answer.body.slice(0, 200)}`;
    if (/\n\s+at /.test(message) || /\.ts:\d+/.test(message)) return `a refusal message with a stack trace: ${message.slice(0, 200)}`;
  }
  return undefined;
}
