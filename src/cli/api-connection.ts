// Where the API-speaking commands (webhooks, simulate, trigger, catalog list) find the platform: --api and --token,
// else LEARNHOOK_API and LEARNHOOK_API_TOKEN. The `serve` banner's `…/v1` URL is accepted as it is printed.
import type { Command } from 'commander';
import { loadSettings } from '../config.ts';
import { CliError } from './cli-error.ts';

export interface ApiConnection {
  /** Base URL without a trailing slash or `/v1`, e.g. http://127.0.0.1:8080. */
  api: string;
  token: string;
}

/** `http://host:8080/v1/` → `http://host:8080`: the banner prints the API with /v1, the commands add it themselves. */
export function apiBase(url: string): string {
  return url
    .trim()
    .replace(/\/+$/, '')
    .replace(/\/v1$/, '')
    .replace(/\/primeapi\/v2$/, '');
}

/** Adds --api and --token (documented as required, though the environment may give them). */
export function addApiOptions<C extends Command>(command: C, tokenText = 'admin token, or the account token'): C {
  command
    .option('--api <url>', 'base URL of a running `learnhook serve`, e.g. http://127.0.0.1:8080 (required; or env LEARNHOOK_API)')
    .option('--token <token>', `${tokenText} (required; or env LEARNHOOK_API_TOKEN)`);
  return command;
}

/** The API URL and token from the command's options (its parents' too), else from the environment. */
export function apiConnection(command: Command): ApiConnection {
  const options = command.optsWithGlobals<{ api?: string; token?: string }>();
  const settings = loadSettings();
  const api = apiBase(options.api ?? settings.api);
  const token = options.token ?? settings.apiToken;
  if (!api) throw new CliError('give the API base URL with --api (or LEARNHOOK_API), e.g. --api http://127.0.0.1:8080', 2);
  if (!/^https?:\/\/[^/]/.test(api)) throw new CliError(`--api: "${api}" is not an http(s) URL, e.g. http://127.0.0.1:8080`, 2);
  if (!token)
    throw new CliError('give a token with --token (or LEARNHOOK_API_TOKEN): the admin token `serve` printed, or an account token', 2);
  return { api, token };
}
