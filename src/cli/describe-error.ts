// Turns the errors an operator can cause (wrong token, unreachable API or database, bad --db, port in use, missing
// PostgreSQL database) into one plain line for stderr. Loaded only when a command fails.
import { ConfigError } from '../config.ts';
import { ApiUnreachableError, PlatformApiError } from '../simulate/platform-client.ts';
import { DatabaseUrlError, redactUrl } from '../store/database.ts';
import { CliError, notedDatabase } from './cli-error.ts';

export interface Described {
  line: string;
  exitCode: number;
}

function apiLine(error: PlatformApiError): string {
  switch (error.status) {
    case 401:
      return `the API refused the token (401 ${error.serverMessage}): give the admin token \`serve\` printed, or the account's token, with --token or LEARNHOOK_API_TOKEN`;
    case 403:
      return `the token may not do this (403 ${error.serverMessage}): an account token only reaches its own account; use the admin token`;
    case 404:
      return `not found (404 ${error.serverMessage}): check the account and webhook ids, and that --api points at \`learnhook serve\``;
    default:
      return `${error.request} answered ${error.status}: ${error.serverMessage}`;
  }
}

/** The PostgreSQL URL's parts, for a createdb line that reaches the same server. */
function createdbCommand(url: string | undefined, name: string): string {
  if (!url?.startsWith('postgres')) return `createdb ${name}`;
  try {
    const parsed = new URL(url);
    const parts = ['createdb'];
    if (parsed.hostname) parts.push('-h', parsed.hostname);
    if (parsed.port) parts.push('-p', parsed.port);
    if (parsed.username) parts.push('-U', decodeURIComponent(parsed.username));
    return [...parts, name].join(' ');
  } catch {
    return `createdb ${name}`;
  }
}

/** One line for a known mistake, or undefined for an error that is a defect (the caller shows its stack). */
export function describeError(error: unknown): Described | undefined {
  if (error instanceof CliError) return { line: error.message, exitCode: error.exitCode };
  if (error instanceof ConfigError || error instanceof DatabaseUrlError) return { line: error.message, exitCode: 2 };
  if (error instanceof ApiUnreachableError) return { line: error.message, exitCode: 1 };
  if (error instanceof PlatformApiError) return { line: apiLine(error), exitCode: 1 };
  if (!(error instanceof Error)) return undefined;
  const database = notedDatabase();
  const where = database ? ` (${redactUrl(database)})` : '';
  const { code, address, port } = error as NodeJS.ErrnoException & { address?: string; port?: number };
  switch (code) {
    case 'EADDRINUSE':
      return {
        line: `port ${port ?? ''} on ${address ?? 'this host'} is already in use: stop what runs there, or choose another with --port`,
        exitCode: 2,
      };
    case 'EACCES':
      if (error.message.includes('listen'))
        return { line: `not allowed to listen on port ${port ?? ''}: choose a port above 1024 with --port`, exitCode: 2 };
      return { line: `permission denied: ${error.message}`, exitCode: 1 };
    case 'ECONNREFUSED':
      return {
        line: `cannot reach the database${where}: connection refused at ${address ?? ''}:${port ?? ''}; is PostgreSQL running, and is --db right?`,
        exitCode: 1,
      };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { line: `cannot resolve the database host${where}: ${error.message}; check --db`, exitCode: 1 };
    // PostgreSQL's own codes (SQLSTATE).
    case '3D000': {
      const name = /database "([^"]+)"/.exec(error.message)?.[1] ?? 'NAME';
      return { line: `PostgreSQL has no database "${name}"${where}: create it with \`${createdbCommand(database, name)}\``, exitCode: 1 };
    }
    case '28P01':
    case '28000':
      return { line: `PostgreSQL refused the login${where}: ${error.message}; check the user and password in --db`, exitCode: 1 };
    // pg parses the URL only when it first connects; a malformed one (e.g. postgres://user:pass@ with no host)
    // surfaces here as Node's URL error.
    case 'ERR_INVALID_URL':
      return {
        line: `the database URL${where} is not a valid URL: use postgres://user@host:port/database or sqlite:PATH`,
        exitCode: 2,
      };
    case 'SQLITE_CANTOPEN':
      return { line: `cannot open the SQLite file${where}: check that its folder exists and is writable`, exitCode: 1 };
    case 'SQLITE_BUSY':
      return { line: `the SQLite file is locked by another process${where}: ${error.message}`, exitCode: 1 };
    default:
      return undefined;
  }
}
