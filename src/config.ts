// Every setting of learnhook in one table: flag, environment variable, default and meaning. The only reader of process.env.

export type SettingKind = 'duration' | 'durationRange' | 'integer' | 'string' | 'boolean';

export interface SettingDefinition {
  /** Key in the settings object. */
  key: keyof Settings;
  /** Command-line flag, without the leading dashes. */
  flag: string;
  /** Environment variable read when the flag is not given. */
  env: string;
  kind: SettingKind;
  /** Default as written by a user (parsed like a flag value). */
  defaultValue: string;
  /** One sentence for --help and the README. */
  doc: string;
  /** Commands that take this setting. */
  commands: readonly CommandName[];
}

export type CommandName = 'serve' | 'worker' | 'mirror' | 'migrate' | 'demo';

export interface DurationRange {
  minMs: number;
  maxMs: number;
}

export interface Settings {
  port: number;
  mirrorPort: number;
  host: string;
  db: string;
  dataDir: string;
  adminToken: string;
  secretKey: string;
  logLevel: string;
  logSummaryEveryMs: number;
  bodyLimit: number;
  allowPrivateTargets: boolean;
  // The guide's intervals, each a setting (SPEC §3).
  retryInitialMs: number;
  retryMaxMs: number;
  retryJitter: number;
  retentionMs: number;
  disableAfterMs: number;
  reminderEveryMs: number;
  connectTimeoutMs: number;
  socketTimeoutMs: number;
  progressDelay: DurationRange;
  progressSeed: number;
  // Delivery capacity and housekeeping.
  batchMax: number;
  concurrency: number;
  maxWebhooksPerAccount: number;
  secretOverlapMs: number;
  pollIntervalMs: number;
  leaseMs: number;
  smtpUrl: string;
  mailFrom: string;
  // Public read API.
  apiRateLimit: number;
  apiRateWindowMs: number;
  // Mirror (consumer).
  mirrorSecret: string;
  mirrorBasicAuth: string;
  api: string;
  apiToken: string;
  signatureTolerance: number;
  lagAlertMs: number;
  alertUrl: string;
  enrichRateLimit: number;
  enrichRateWindowMs: number;
  projectionAttempts: number;
}

const all: readonly CommandName[] = ['serve', 'worker', 'mirror', 'migrate', 'demo'];
const producer: readonly CommandName[] = ['serve', 'worker', 'demo'];
const servers: readonly CommandName[] = ['serve', 'mirror', 'demo'];
const consumer: readonly CommandName[] = ['mirror', 'demo'];

export const settingDefinitions: readonly SettingDefinition[] = [
  {
    key: 'port',
    flag: 'port',
    env: 'LEARNHOOK_PORT',
    kind: 'integer',
    defaultValue: '8080',
    doc: 'TCP port the platform API listens on.',
    commands: ['serve', 'demo'],
  },
  {
    key: 'mirrorPort',
    flag: 'port',
    env: 'LEARNHOOK_MIRROR_PORT',
    kind: 'integer',
    defaultValue: '8090',
    doc: 'TCP port the mirror listens on (its own variable, so serve and mirror can run side by side).',
    commands: ['mirror'],
  },
  {
    key: 'host',
    flag: 'host',
    env: 'LEARNHOOK_HOST',
    kind: 'string',
    defaultValue: '127.0.0.1',
    doc: 'Address to listen on; 0.0.0.0 for every interface.',
    commands: servers,
  },
  {
    key: 'db',
    flag: 'db',
    env: 'LEARNHOOK_DB',
    kind: 'string',
    defaultValue: '',
    doc: 'Database: sqlite:PATH or postgres://…; defaults to a SQLite file under the data folder.',
    commands: all,
  },
  {
    key: 'dataDir',
    flag: 'data-dir',
    env: 'LEARNHOOK_DATA_DIR',
    kind: 'string',
    defaultValue: '.learnhook',
    doc: 'Folder for the default SQLite file and for e-mails written as .eml files.',
    commands: all,
  },
  {
    key: 'adminToken',
    flag: 'admin-token',
    env: 'LEARNHOOK_ADMIN_TOKEN',
    kind: 'string',
    defaultValue: '',
    doc: 'Admin bearer token; a random one is generated and printed at start when empty.',
    commands: ['serve', 'demo'],
  },
  {
    key: 'secretKey',
    flag: 'secret-key',
    env: 'LEARNHOOK_SECRET_KEY',
    kind: 'string',
    defaultValue: '',
    doc: 'Key that seals webhook passwords and signing secrets in the database: 64 hex digits (openssl rand -hex 32); when empty, <data-dir>/secret.key, generated at first start. Every process on one database needs the same key.',
    commands: producer,
  },
  {
    key: 'logLevel',
    flag: 'log-level',
    env: 'LEARNHOOK_LOG_LEVEL',
    kind: 'string',
    defaultValue: 'info',
    doc: 'Log level: fatal, error, warn, info, debug, trace or silent.',
    commands: all,
  },
  {
    key: 'logSummaryEveryMs',
    flag: 'log-summary-every',
    env: 'LEARNHOOK_LOG_SUMMARY_EVERY',
    kind: 'duration',
    defaultValue: '10s',
    doc: 'Interval of the info lines that sum up the flow (deliveries sent, batches applied, deliveries refused); the first of each kind is logged at once.',
    commands: ['serve', 'worker', 'mirror', 'demo'],
  },
  {
    key: 'bodyLimit',
    flag: 'body-limit',
    env: 'LEARNHOOK_BODY_LIMIT',
    kind: 'integer',
    defaultValue: '1048576',
    doc: 'Largest accepted request body in bytes; larger ones answer 413.',
    commands: servers,
  },
  {
    key: 'allowPrivateTargets',
    flag: 'allow-private-targets',
    env: 'LEARNHOOK_ALLOW_PRIVATE_TARGETS',
    kind: 'boolean',
    defaultValue: 'false',
    doc: 'Let webhooks target loopback and private addresses (demo and tests); refused otherwise.',
    commands: producer,
  },
  {
    key: 'retryInitialMs',
    flag: 'retry-initial',
    env: 'LEARNHOOK_RETRY_INITIAL',
    kind: 'duration',
    defaultValue: '5s',
    doc: 'Wait before the first retry of a failed batch; doubles on each further failure.',
    commands: producer,
  },
  {
    key: 'retryMaxMs',
    flag: 'retry-max',
    env: 'LEARNHOOK_RETRY_MAX',
    kind: 'duration',
    defaultValue: '5m',
    doc: 'Longest wait between two attempts; retries continue at this pace until retention ends.',
    commands: producer,
  },
  {
    key: 'retryJitter',
    flag: 'retry-jitter',
    env: 'LEARNHOOK_RETRY_JITTER',
    kind: 'integer',
    defaultValue: '0',
    doc: 'Random spread added to each retry wait, in percent of it (0 turns jitter off).',
    commands: producer,
  },
  {
    key: 'retentionMs',
    flag: 'retention',
    env: 'LEARNHOOK_RETENTION',
    kind: 'duration',
    defaultValue: '7d',
    doc: 'How long events are kept; undelivered events older than this are lost and counted.',
    commands: producer,
  },
  {
    key: 'disableAfterMs',
    flag: 'disable-after',
    env: 'LEARNHOOK_DISABLE_AFTER',
    kind: 'duration',
    defaultValue: '7d',
    doc: 'A webhook failing without a break for this long is disabled.',
    commands: producer,
  },
  {
    key: 'reminderEveryMs',
    flag: 'reminder-every',
    env: 'LEARNHOOK_REMINDER_EVERY',
    kind: 'duration',
    defaultValue: '1d',
    doc: 'Interval of reminder e-mails to the account contact while a webhook fails.',
    commands: producer,
  },
  {
    key: 'connectTimeoutMs',
    flag: 'connect-timeout',
    env: 'LEARNHOOK_CONNECT_TIMEOUT',
    kind: 'duration',
    defaultValue: '10s',
    doc: 'Time allowed to open the connection to a webhook target.',
    commands: producer,
  },
  {
    key: 'socketTimeoutMs',
    flag: 'socket-timeout',
    env: 'LEARNHOOK_SOCKET_TIMEOUT',
    kind: 'duration',
    defaultValue: '5s',
    doc: 'Time allowed for the target to answer once connected; later answers count as failures.',
    commands: producer,
  },
  {
    key: 'progressDelay',
    flag: 'progress-delay',
    env: 'LEARNHOOK_PROGRESS_DELAY',
    kind: 'durationRange',
    defaultValue: '0s..15m',
    doc: 'Aggregation delay of LEARNER_PROGRESS events: a duration or a range MIN..MAX, drawn at random within it.',
    commands: ['serve', 'demo'],
  },
  {
    key: 'progressSeed',
    flag: 'progress-seed',
    env: 'LEARNHOOK_PROGRESS_SEED',
    kind: 'integer',
    defaultValue: '1',
    doc: 'Seed of the random progress delays, so a run can be repeated.',
    commands: ['serve', 'demo'],
  },
  {
    key: 'batchMax',
    flag: 'batch-max',
    env: 'LEARNHOOK_BATCH_MAX',
    kind: 'integer',
    defaultValue: '100',
    doc: 'Most events in one delivery request.',
    commands: producer,
  },
  {
    key: 'concurrency',
    flag: 'concurrency',
    env: 'LEARNHOOK_CONCURRENCY',
    kind: 'integer',
    defaultValue: '32',
    doc: 'Most delivery requests in flight at once in this process (one per webhook at most).',
    commands: producer,
  },
  {
    key: 'maxWebhooksPerAccount',
    flag: 'max-webhooks',
    env: 'LEARNHOOK_MAX_WEBHOOKS',
    kind: 'integer',
    defaultValue: '5',
    doc: 'Most webhooks one account may register.',
    commands: ['serve', 'demo'],
  },
  {
    key: 'secretOverlapMs',
    flag: 'secret-overlap',
    env: 'LEARNHOOK_SECRET_OVERLAP',
    kind: 'duration',
    defaultValue: '24h',
    doc: 'After a signing secret is rotated, deliveries are signed with the old one too for this long.',
    commands: producer,
  },
  {
    key: 'pollIntervalMs',
    flag: 'poll-interval',
    env: 'LEARNHOOK_POLL_INTERVAL',
    kind: 'duration',
    defaultValue: '1s',
    doc: 'How often the dispatcher looks for due work when no wake-up arrives.',
    commands: producer,
  },
  {
    key: 'leaseMs',
    flag: 'lease',
    env: 'LEARNHOOK_LEASE',
    kind: 'duration',
    defaultValue: '30s',
    doc: 'How long a process owns a webhook it is delivering to before another may take it over.',
    commands: producer,
  },
  {
    key: 'smtpUrl',
    flag: 'smtp-url',
    env: 'LEARNHOOK_SMTP_URL',
    kind: 'string',
    defaultValue: '',
    doc: 'SMTP server for reminder and disable e-mails (smtp://host:port); .eml files under the data folder when empty.',
    commands: producer,
  },
  {
    key: 'mailFrom',
    flag: 'mail-from',
    env: 'LEARNHOOK_MAIL_FROM',
    kind: 'string',
    defaultValue: 'learnhook <noreply@learnhook.invalid>',
    doc: 'Sender address of e-mails.',
    commands: producer,
  },
  {
    key: 'apiRateLimit',
    flag: 'api-rate-limit',
    env: 'LEARNHOOK_API_RATE_LIMIT',
    kind: 'integer',
    defaultValue: '500',
    doc: 'Requests per token and window allowed on the public read API (/primeapi/v2); 429 above.',
    commands: ['serve', 'demo'],
  },
  {
    key: 'apiRateWindowMs',
    flag: 'api-rate-window',
    env: 'LEARNHOOK_API_RATE_WINDOW',
    kind: 'duration',
    defaultValue: '1h',
    doc: 'The window of the public read API rate limit.',
    commands: ['serve', 'demo'],
  },
  {
    key: 'mirrorSecret',
    flag: 'secret',
    env: 'LEARNHOOK_MIRROR_SECRET',
    kind: 'string',
    defaultValue: '',
    doc: 'Signing secret (whsec_…) the mirror verifies deliveries with; several separated by spaces.',
    commands: consumer,
  },
  {
    key: 'mirrorBasicAuth',
    flag: 'basic-auth',
    env: 'LEARNHOOK_MIRROR_BASIC_AUTH',
    kind: 'string',
    defaultValue: '',
    doc: 'USER:PASSWORD the mirror requires as basic auth, instead of a signature.',
    commands: consumer,
  },
  {
    key: 'api',
    flag: 'api',
    env: 'LEARNHOOK_API',
    kind: 'string',
    defaultValue: '',
    doc: 'Base URL of the platform whose public read API the mirror enriches from.',
    commands: consumer,
  },
  {
    key: 'apiToken',
    flag: 'api-token',
    env: 'LEARNHOOK_API_TOKEN',
    kind: 'string',
    defaultValue: '',
    doc: 'Token for the public read API.',
    commands: consumer,
  },
  {
    key: 'signatureTolerance',
    flag: 'signature-tolerance',
    env: 'LEARNHOOK_SIGNATURE_TOLERANCE',
    kind: 'duration',
    defaultValue: '5m',
    doc: 'Largest age of a webhook-timestamp the mirror accepts.',
    commands: consumer,
  },
  {
    key: 'lagAlertMs',
    flag: 'lag-alert',
    env: 'LEARNHOOK_LAG_ALERT',
    kind: 'duration',
    defaultValue: '30m',
    doc: "Alert when a delivery has waited in the mirror's inbox longer than this before being applied.",
    commands: consumer,
  },
  {
    key: 'alertUrl',
    flag: 'alert-url',
    env: 'LEARNHOOK_ALERT_URL',
    kind: 'string',
    defaultValue: '',
    doc: 'URL the mirror POSTs alerts to (gaps, lag, set-aside inbox rows); alerts are only logged when empty.',
    commands: consumer,
  },
  {
    key: 'enrichRateLimit',
    flag: 'enrich-rate-limit',
    env: 'LEARNHOOK_ENRICH_RATE_LIMIT',
    kind: 'integer',
    defaultValue: '500',
    doc: 'Most read-API calls the mirror makes per window, shared by every mirror process on its database.',
    commands: consumer,
  },
  {
    key: 'enrichRateWindowMs',
    flag: 'enrich-rate-window',
    env: 'LEARNHOOK_ENRICH_RATE_WINDOW',
    kind: 'duration',
    defaultValue: '1h',
    doc: "The window of the mirror's read-API rate limit.",
    commands: consumer,
  },
  {
    key: 'projectionAttempts',
    flag: 'projection-attempts',
    env: 'LEARNHOOK_PROJECTION_ATTEMPTS',
    kind: 'integer',
    defaultValue: '5',
    doc: 'Failed tries before the mirror sets an inbox row aside (see `learnhook mirror retry-failed`) and applies the rows behind it.',
    commands: consumer,
  },
];

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `250ms`, `5s`, `5m`, `1h`, `7d` (or a bare number of milliseconds) into milliseconds. */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!match) throw new ConfigError(`"${text}" is not a duration; write it like 250ms, 5s, 5m, 1h or 7d`);
  const unit = match[2] ?? 'ms';
  return Math.round(Number(match[1]) * (durationUnits[unit] ?? 1));
}

/** Formats milliseconds in the largest unit that divides them evenly. */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = durationUnits[unit] ?? 1;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** Parses `5m` (fixed) or `0s..15m` (a range) into a range in milliseconds. */
export function parseDurationRange(text: string): DurationRange {
  const [low, high] = text.split('..');
  const minMs = parseDuration(low ?? '');
  const maxMs = high === undefined ? minMs : parseDuration(high);
  if (maxMs < minMs) throw new ConfigError(`"${text}": the end of the range is before its start`);
  return { minMs, maxMs };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function parseValue(definition: SettingDefinition, text: string): unknown {
  switch (definition.kind) {
    case 'duration':
      return parseDuration(text);
    case 'durationRange':
      return parseDurationRange(text);
    case 'integer': {
      if (!/^-?\d+$/.test(text.trim())) throw new ConfigError(`--${definition.flag}: "${text}" is not a whole number`);
      return Number(text);
    }
    case 'boolean':
      if (['1', 'true', 'yes', 'on', ''].includes(text.toLowerCase())) return true;
      if (['0', 'false', 'no', 'off'].includes(text.toLowerCase())) return false;
      throw new ConfigError(`--${definition.flag}: "${text}" is not true or false`);
    case 'string':
      return text;
  }
}

/**
 * Builds the settings: defaults, overridden by environment variables, overridden by the given
 * values (flags from the command line, as text, or already-typed values from code and tests).
 */
export function loadSettings(given: Partial<Record<keyof Settings, unknown>> = {}, env: NodeJS.ProcessEnv = process.env): Settings {
  const settings: Record<string, unknown> = {};
  for (const definition of settingDefinitions) {
    const value = given[definition.key];
    const fromEnv = env[definition.env];
    try {
      if (value !== undefined && typeof value !== 'string') settings[definition.key] = value;
      else if (value !== undefined) settings[definition.key] = parseValue(definition, value);
      else if (fromEnv !== undefined) settings[definition.key] = parseValue(definition, fromEnv);
      else settings[definition.key] = parseValue(definition, definition.defaultValue);
    } catch (error) {
      const source = value !== undefined ? `--${definition.flag}` : definition.env;
      throw new ConfigError(`${source}: ${(error as Error).message}`);
    }
  }
  return settings as unknown as Settings;
}

/** Whether the process runs under CI (the CI variable set), for stricter test preconditions. */
export function runningInCi(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.CI) && env.CI !== 'false';
}

/** PostgreSQL server the tests create their databases on. */
export function testPostgresUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.LEARNHOOK_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}
