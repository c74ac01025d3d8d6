// Every setting of learnhook in one table: flag, environment variable, default, accepted range and meaning. The only reader of process.env.

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
  dbPool: number;
  heapGrowth: number;
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
  batchMaxBytes: number;
  concurrency: number;
  deliveryThread: string;
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
  /**
   * Not a flag: origins (scheme://ip:port) exempt from the SSRF guard, set by `learnhook demo` for its own loopback
   * mirror only, so the guard stays on for every webhook a user registers.
   */
  trustedTargets?: readonly string[];
  // Mirror notifications (docs/notifications.md).
  notifyRetryInitialMs: number;
  notifyRetryMaxMs: number;
  notifyGiveUpMs: number;
  notifyDigestWindowMs: number;
  notifyLeaseMs: number;
  notifyPollMs: number;
  notifyTimeoutMs: number;
  rulesToken: string;
}

/** The keys of the settings whose value is exactly of type `T`. */
type KeysOf<T> = { [K in keyof Settings]-?: [Settings[K]] extends [T] ? ([T] extends [Settings[K]] ? K : never) : never }[keyof Settings];

interface Common<Key extends keyof Settings> {
  /** Key in the settings object: its type there must be the kind's (checked by the compiler). */
  key: Key;
  /** Command-line flag, without the leading dashes. */
  flag: string;
  /** Environment variable read when the flag is not given. */
  env: string;
  /** Default as written by a user (parsed and checked like a flag value). */
  defaultValue: string;
  /** One sentence for --help and the settings table. */
  doc: string;
  /** Commands that take this setting. */
  commands: readonly CommandName[];
}

/** A whole number within [min, max]. */
interface IntegerSetting extends Common<KeysOf<number>> {
  kind: 'integer';
  min: number;
  max: number;
}

/** A duration with a unit, within [min, max] (written as durations too). */
interface DurationSetting extends Common<KeysOf<number>> {
  kind: 'duration';
  min: string;
  max: string;
}

/** `MIN..MAX` or one duration; both ends within [min, max]. */
interface DurationRangeSetting extends Common<KeysOf<DurationRange>> {
  kind: 'durationRange';
  min: string;
  max: string;
}

/** Exactly true, false, 1 or 0 (any case). */
interface BooleanSetting extends Common<KeysOf<boolean>> {
  kind: 'boolean';
}

/** Text: not empty unless `empty` says an empty value means "none"; one of `choices`, or of a `format`. */
interface StringSetting extends Common<KeysOf<string>> {
  kind: 'string';
  empty?: true;
  choices?: readonly string[];
  format?: StringFormat;
}

interface StringFormat {
  /** What a value must be, in words ("an http:// or https:// URL"). */
  expected: string;
  test(text: string): boolean;
}

export type SettingDefinition = IntegerSetting | DurationSetting | DurationRangeSetting | BooleanSetting | StringSetting;
export type SettingKind = SettingDefinition['kind'];

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function urlWithScheme(expected: string, ...protocols: string[]): StringFormat {
  return {
    expected,
    test(text) {
      try {
        return protocols.includes(new URL(text).protocol);
      } catch {
        return false;
      }
    },
  };
}
const httpUrl = urlWithScheme('an http:// or https:// URL', 'http:', 'https:');
const smtpUrl = urlWithScheme('an smtp:// or smtps:// URL', 'smtp:', 'smtps:');
const userAndPassword: StringFormat = { expected: 'USER:PASSWORD', test: (text) => text.indexOf(':') > 0 };

const all: readonly CommandName[] = ['serve', 'worker', 'mirror', 'migrate', 'demo'];
const producer: readonly CommandName[] = ['serve', 'worker', 'demo'];
const servers: readonly CommandName[] = ['serve', 'mirror', 'demo'];
const consumer: readonly CommandName[] = ['mirror', 'demo'];

const definitions = [
  {
    key: 'port',
    flag: 'port',
    env: 'LEARNHOOK_PORT',
    kind: 'integer',
    defaultValue: '8080',
    doc: 'TCP port the platform API listens on.',
    min: 0,
    max: 65_535,
    commands: ['serve', 'demo'],
  },
  {
    key: 'mirrorPort',
    flag: 'port',
    env: 'LEARNHOOK_MIRROR_PORT',
    kind: 'integer',
    defaultValue: '8090',
    doc: 'TCP port the mirror listens on (its own variable, so serve and mirror can run side by side).',
    min: 0,
    max: 65_535,
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
    empty: true,
    commands: all,
  },
  {
    key: 'dbPool',
    flag: 'db-pool',
    env: 'LEARNHOOK_DB_POOL',
    kind: 'integer',
    defaultValue: '10',
    doc: 'PostgreSQL connections this process keeps open at most (SQLite uses one); see docs/deployment.md for sizing.',
    min: 1,
    max: 1000,
    commands: ['serve', 'worker', 'mirror', 'demo'],
  },
  {
    key: 'heapGrowth',
    flag: 'heap-growth',
    env: 'LEARNHOOK_HEAP_GROWTH',
    kind: 'integer',
    defaultValue: '100',
    doc: "How far the JavaScript heap grows past its live data before V8 collects it again, in percent (V8's --heap-growing-percent; 0 lets V8 choose, up to 300 %); not a limit, see docs/benchmarks.md.",
    min: 0,
    max: 300,
    commands: ['serve', 'worker'],
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
    empty: true,
    commands: ['serve', 'demo'],
  },
  {
    key: 'secretKey',
    flag: 'secret-key',
    env: 'LEARNHOOK_SECRET_KEY',
    kind: 'string',
    defaultValue: '',
    doc: 'Key that seals webhook passwords and signing secrets in the database: 64 hex digits (openssl rand -hex 32); when empty, <data-dir>/secret.key, generated at first start. Every process on one database needs the same key.',
    // Its form (hex or base64 of 32 bytes) is checked where the key is read, src/secrets/secret-key.ts.
    empty: true,
    commands: producer,
  },
  {
    key: 'logLevel',
    flag: 'log-level',
    env: 'LEARNHOOK_LOG_LEVEL',
    kind: 'string',
    defaultValue: 'info',
    doc: 'Log level: fatal, error, warn, info, debug, trace or silent.',
    choices: logLevels,
    commands: all,
  },
  {
    key: 'logSummaryEveryMs',
    flag: 'log-summary-every',
    env: 'LEARNHOOK_LOG_SUMMARY_EVERY',
    kind: 'duration',
    defaultValue: '10s',
    doc: 'Interval of the info lines that sum up the flow (deliveries sent, batches applied, deliveries refused); the first of each kind is logged at once.',
    min: '1s',
    max: '1d',
    commands: ['serve', 'worker', 'mirror', 'demo'],
  },
  {
    key: 'bodyLimit',
    flag: 'body-limit',
    env: 'LEARNHOOK_BODY_LIMIT',
    kind: 'integer',
    defaultValue: '1048576',
    doc: 'Largest accepted request body in bytes; larger ones answer 413.',
    min: 1024,
    max: 1_073_741_824,
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
    min: '10ms',
    max: '1d',
    commands: producer,
  },
  {
    key: 'retryMaxMs',
    flag: 'retry-max',
    env: 'LEARNHOOK_RETRY_MAX',
    kind: 'duration',
    defaultValue: '5m',
    doc: 'Longest wait between two attempts; retries continue at this pace until retention ends.',
    min: '100ms',
    max: '1d',
    commands: producer,
  },
  {
    key: 'retryJitter',
    flag: 'retry-jitter',
    env: 'LEARNHOOK_RETRY_JITTER',
    kind: 'integer',
    defaultValue: '0',
    doc: 'Random spread added to each retry wait, in percent of it (0 turns jitter off).',
    min: 0,
    max: 100,
    commands: producer,
  },
  {
    key: 'retentionMs',
    flag: 'retention',
    env: 'LEARNHOOK_RETENTION',
    kind: 'duration',
    defaultValue: '7d',
    doc: 'How long events are kept; undelivered events older than this are lost and counted.',
    min: '1s',
    max: '365d',
    commands: producer,
  },
  {
    key: 'disableAfterMs',
    flag: 'disable-after',
    env: 'LEARNHOOK_DISABLE_AFTER',
    kind: 'duration',
    defaultValue: '7d',
    doc: 'A webhook failing without a break for this long is disabled.',
    min: '1s',
    max: '365d',
    commands: producer,
  },
  {
    key: 'reminderEveryMs',
    flag: 'reminder-every',
    env: 'LEARNHOOK_REMINDER_EVERY',
    kind: 'duration',
    defaultValue: '1d',
    doc: 'Interval of reminder e-mails to the account contact while a webhook fails.',
    min: '100ms',
    max: '365d',
    commands: producer,
  },
  {
    key: 'connectTimeoutMs',
    flag: 'connect-timeout',
    env: 'LEARNHOOK_CONNECT_TIMEOUT',
    kind: 'duration',
    defaultValue: '10s',
    doc: 'Time allowed to open the connection to a webhook target.',
    min: '100ms',
    max: '10m',
    commands: producer,
  },
  {
    key: 'socketTimeoutMs',
    flag: 'socket-timeout',
    env: 'LEARNHOOK_SOCKET_TIMEOUT',
    kind: 'duration',
    defaultValue: '5s',
    doc: 'Time allowed for the target to answer once connected; later answers count as failures.',
    min: '100ms',
    max: '10m',
    commands: producer,
  },
  {
    key: 'progressDelay',
    flag: 'progress-delay',
    env: 'LEARNHOOK_PROGRESS_DELAY',
    kind: 'durationRange',
    defaultValue: '0s..15m',
    doc: 'Aggregation delay of LEARNER_PROGRESS events: a duration or a range MIN..MAX, drawn at random within it.',
    min: '0ms',
    max: '1d',
    commands: ['serve', 'demo'],
  },
  {
    key: 'progressSeed',
    flag: 'progress-seed',
    env: 'LEARNHOOK_PROGRESS_SEED',
    kind: 'integer',
    defaultValue: '1',
    doc: 'Seed of the random progress delays, so a run can be repeated.',
    min: 0,
    max: 4_294_967_295,
    commands: ['serve', 'demo'],
  },
  {
    key: 'batchMax',
    flag: 'batch-max',
    env: 'LEARNHOOK_BATCH_MAX',
    kind: 'integer',
    defaultValue: '100',
    doc: 'Most events in one delivery request.',
    min: 1,
    max: 10_000,
    commands: producer,
  },
  {
    key: 'batchMaxBytes',
    flag: 'batch-max-bytes',
    env: 'LEARNHOOK_BATCH_MAX_BYTES',
    kind: 'integer',
    defaultValue: '262144',
    doc: 'Largest body of one delivery request in bytes; an event larger than this goes alone. A batch a receiver refuses with 413 is split.',
    min: 1024,
    max: 67_108_864,
    commands: producer,
  },
  {
    key: 'concurrency',
    flag: 'concurrency',
    env: 'LEARNHOOK_CONCURRENCY',
    kind: 'integer',
    defaultValue: '32',
    doc: 'Most delivery requests in flight at once in this process (one per webhook at most).',
    min: 1,
    max: 1000,
    commands: producer,
  },
  {
    key: 'deliveryThread',
    flag: 'delivery-thread',
    env: 'LEARNHOOK_DELIVERY_THREAD',
    kind: 'string',
    defaultValue: 'auto',
    doc: 'Deliver on a thread of its own beside the API thread: on, off, or auto (on for a SQLite file on 2 or more cores; see docs/deployment.md).',
    choices: ['auto', 'on', 'off'],
    commands: ['serve'],
  },
  {
    key: 'maxWebhooksPerAccount',
    flag: 'max-webhooks',
    env: 'LEARNHOOK_MAX_WEBHOOKS',
    kind: 'integer',
    defaultValue: '5',
    doc: 'Most webhooks one account may register.',
    min: 1,
    max: 1000,
    commands: ['serve', 'demo'],
  },
  {
    key: 'secretOverlapMs',
    flag: 'secret-overlap',
    env: 'LEARNHOOK_SECRET_OVERLAP',
    kind: 'duration',
    defaultValue: '24h',
    doc: 'After a signing secret is rotated, deliveries are signed with the old one too for this long.',
    min: '0ms',
    max: '30d',
    commands: producer,
  },
  {
    key: 'pollIntervalMs',
    flag: 'poll-interval',
    env: 'LEARNHOOK_POLL_INTERVAL',
    kind: 'duration',
    defaultValue: '1s',
    doc: 'How often the dispatcher looks for due work when no wake-up arrives.',
    min: '10ms',
    max: '1h',
    commands: producer,
  },
  {
    key: 'leaseMs',
    flag: 'lease',
    env: 'LEARNHOOK_LEASE',
    kind: 'duration',
    defaultValue: '30s',
    doc: "How long a webhook stays claimed by a worker that stops renewing it (renewed every third of this while it delivers, however slow the target). On PostgreSQL a dead worker's webhooks are taken over at once, whatever is left of this.",
    min: '100ms',
    max: '1d',
    commands: producer,
  },
  {
    key: 'smtpUrl',
    flag: 'smtp-url',
    env: 'LEARNHOOK_SMTP_URL',
    kind: 'string',
    defaultValue: '',
    doc: 'SMTP server for e-mails: reminders, disable notices and mirror notifications (smtp://host:port); .eml files under the data folder when empty.',
    empty: true,
    format: smtpUrl,
    commands: [...producer, 'mirror'],
  },
  {
    key: 'mailFrom',
    flag: 'mail-from',
    env: 'LEARNHOOK_MAIL_FROM',
    kind: 'string',
    defaultValue: 'learnhook <noreply@learnhook.invalid>',
    doc: 'Sender address of e-mails.',
    commands: [...producer, 'mirror'],
  },
  {
    key: 'apiRateLimit',
    flag: 'api-rate-limit',
    env: 'LEARNHOOK_API_RATE_LIMIT',
    kind: 'integer',
    defaultValue: '500',
    doc: 'Requests per token and window allowed on the public read API (/primeapi/v2); 429 above.',
    min: 1,
    max: 1_000_000_000,
    commands: ['serve', 'demo'],
  },
  {
    key: 'apiRateWindowMs',
    flag: 'api-rate-window',
    env: 'LEARNHOOK_API_RATE_WINDOW',
    kind: 'duration',
    defaultValue: '1h',
    doc: 'The window of the public read API rate limit.',
    min: '100ms',
    max: '1d',
    commands: ['serve', 'demo'],
  },
  {
    key: 'mirrorSecret',
    flag: 'secret',
    env: 'LEARNHOOK_MIRROR_SECRET',
    kind: 'string',
    defaultValue: '',
    doc: 'Signing secrets the mirror verifies deliveries with, each bound to its account: 1001=whsec_…,1002=whsec_… (a plain whsec_… accepts any account: single tenant only).',
    empty: true,
    commands: consumer,
  },
  {
    key: 'mirrorBasicAuth',
    flag: 'basic-auth',
    env: 'LEARNHOOK_MIRROR_BASIC_AUTH',
    kind: 'string',
    defaultValue: '',
    doc: 'USER:PASSWORD the mirror accepts as basic auth instead of a signature; ACCOUNT=USER:PASSWORD,… binds each to its account.',
    empty: true,
    format: userAndPassword,
    commands: consumer,
  },
  {
    key: 'api',
    flag: 'api',
    env: 'LEARNHOOK_API',
    kind: 'string',
    defaultValue: '',
    doc: 'Base URL of the platform whose public read API the mirror enriches from.',
    empty: true,
    format: httpUrl,
    commands: consumer,
  },
  {
    key: 'apiToken',
    flag: 'api-token',
    env: 'LEARNHOOK_API_TOKEN',
    kind: 'string',
    defaultValue: '',
    doc: 'Token for the public read API.',
    empty: true,
    commands: consumer,
  },
  {
    key: 'signatureTolerance',
    flag: 'signature-tolerance',
    env: 'LEARNHOOK_SIGNATURE_TOLERANCE',
    kind: 'duration',
    defaultValue: '5m',
    doc: 'Largest age of a webhook-timestamp the mirror accepts.',
    min: '1s',
    max: '1d',
    commands: consumer,
  },
  {
    key: 'lagAlertMs',
    flag: 'lag-alert',
    env: 'LEARNHOOK_LAG_ALERT',
    kind: 'duration',
    defaultValue: '30m',
    doc: "Alert when a delivery has waited in the mirror's inbox longer than this before being applied.",
    min: '1s',
    max: '365d',
    commands: consumer,
  },
  {
    key: 'alertUrl',
    flag: 'alert-url',
    env: 'LEARNHOOK_ALERT_URL',
    kind: 'string',
    defaultValue: '',
    doc: 'URL the mirror POSTs alerts to (gaps, lag, set-aside inbox rows); alerts are only logged when empty.',
    empty: true,
    format: httpUrl,
    commands: consumer,
  },
  {
    key: 'enrichRateLimit',
    flag: 'enrich-rate-limit',
    env: 'LEARNHOOK_ENRICH_RATE_LIMIT',
    kind: 'integer',
    defaultValue: '500',
    doc: 'Most read-API calls the mirror makes per window, shared by every mirror process on its database.',
    min: 1,
    max: 1_000_000_000,
    commands: consumer,
  },
  {
    key: 'enrichRateWindowMs',
    flag: 'enrich-rate-window',
    env: 'LEARNHOOK_ENRICH_RATE_WINDOW',
    kind: 'duration',
    defaultValue: '1h',
    doc: "The window of the mirror's read-API rate limit.",
    min: '100ms',
    max: '1d',
    commands: consumer,
  },
  {
    key: 'projectionAttempts',
    flag: 'projection-attempts',
    env: 'LEARNHOOK_PROJECTION_ATTEMPTS',
    kind: 'integer',
    defaultValue: '5',
    doc: 'Failed tries before the mirror sets an inbox row aside (see `learnhook mirror retry-failed`) and applies the rows behind it.',
    min: 1,
    max: 1000,
    commands: consumer,
  },
  {
    key: 'notifyRetryInitialMs',
    flag: 'notify-retry-initial',
    env: 'LEARNHOOK_NOTIFY_RETRY_INITIAL',
    kind: 'duration',
    defaultValue: '5s',
    doc: 'Wait before sending a failed notification again (10ms..1h); doubles on each further failure.',
    min: '10ms',
    max: '1h',
    commands: consumer,
  },
  {
    key: 'notifyRetryMaxMs',
    flag: 'notify-retry-max',
    env: 'LEARNHOOK_NOTIFY_RETRY_MAX',
    kind: 'duration',
    defaultValue: '5m',
    doc: 'Longest wait between two attempts of a notification (at least --notify-retry-initial, at most 1d).',
    min: '10ms',
    max: '1d',
    commands: consumer,
  },
  {
    key: 'notifyGiveUpMs',
    flag: 'notify-give-up',
    env: 'LEARNHOOK_NOTIFY_GIVE_UP',
    kind: 'duration',
    defaultValue: '7d',
    doc: 'A notification still failing this long after it was recorded is marked failed and no longer tried (1s..30d).',
    min: '1s',
    max: '30d',
    commands: consumer,
  },
  {
    key: 'notifyDigestWindowMs',
    flag: 'notify-digest-window',
    env: 'LEARNHOOK_NOTIFY_DIGEST_WINDOW',
    kind: 'duration',
    defaultValue: '5m',
    doc: 'Window in which a rule groups _BATCH events into one message when it sets no digest of its own (1s..1d).',
    min: '1s',
    max: '1d',
    commands: consumer,
  },
  {
    key: 'notifyLeaseMs',
    flag: 'notify-lease',
    env: 'LEARNHOOK_NOTIFY_LEASE',
    kind: 'duration',
    defaultValue: '1m',
    doc: 'How long a mirror process owns a notification it is sending; longer than --notify-timeout (a process killed mid-send is taken over after it).',
    min: '200ms',
    max: '1h',
    commands: consumer,
  },
  {
    key: 'notifyPollMs',
    flag: 'notify-poll',
    env: 'LEARNHOOK_NOTIFY_POLL',
    kind: 'duration',
    defaultValue: '1s',
    doc: 'How often the notification sender looks for due messages (10ms..1m).',
    min: '10ms',
    max: '1m',
    commands: consumer,
  },
  {
    key: 'notifyTimeoutMs',
    flag: 'notify-timeout',
    env: 'LEARNHOOK_NOTIFY_TIMEOUT',
    kind: 'duration',
    defaultValue: '10s',
    doc: 'Time allowed for one send (SMTP connection and dialogue, or the chat webhook POST) (100ms..5m).',
    min: '100ms',
    max: '5m',
    commands: consumer,
  },
  {
    key: 'rulesToken',
    flag: 'rules-token',
    env: 'LEARNHOOK_RULES_TOKEN',
    kind: 'string',
    defaultValue: '',
    doc: "Bearer token the mirror's /rules API requires for changes and test sends; open to anyone who reaches the port when empty.",
    empty: true,
    commands: consumer,
  },
] as const satisfies readonly SettingDefinition[];

/** Every key of Settings has a definition: a key without one is a compile error naming it. */
// `trustedTargets` is wiring set by `learnhook demo`, not a setting a user gives.
type UndefinedSetting = Exclude<keyof Settings, (typeof definitions)[number]['key'] | 'trustedTargets'>;
const everySettingDefined: [UndefinedSetting] extends [never] ? true : UndefinedSetting = true;
void everySettingDefined;

export const settingDefinitions: readonly SettingDefinition[] = definitions;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const durationUnits = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type DurationUnit = keyof typeof durationUnits;

/** Parses `250ms`, `1.5s`, `5m`, `1h`, `7d` into milliseconds; a unit is required (is `5000` ms or s?). */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!match) throw new ConfigError(`'${text}' is not a duration; write a number and a unit: 250ms, 5s, 5m, 1h or 7d`);
  const unit = match[2] as DurationUnit | undefined;
  if (unit === undefined) throw new ConfigError(`'${text}' has no unit; add ms, s, m, h or d (e.g. ${match[1]}ms or ${match[1]}s)`);
  return Math.round(Number(match[1]) * durationUnits[unit]);
}

/** Formats milliseconds in the largest unit that divides them evenly. */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = durationUnits[unit];
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** Parses `5m` (fixed) or `0s..15m` (a range) into a range in milliseconds. */
export function parseDurationRange(text: string): DurationRange {
  const [low, high, ...rest] = text.split('..');
  if (rest.length > 0) throw new ConfigError(`'${text}' is not a range; write MIN..MAX, e.g. 0s..15m`);
  const minMs = parseDuration(low ?? '');
  const maxMs = high === undefined ? minMs : parseDuration(high);
  return { minMs, maxMs };
}

/** The values a setting accepts, in words, for messages and the settings table. */
export function settingRange(definition: SettingDefinition): string {
  switch (definition.kind) {
    case 'integer':
      return `${definition.min}–${definition.max}`;
    case 'duration':
      return `${definition.min}–${definition.max}`;
    case 'durationRange':
      return `${definition.min}–${definition.max}, MIN ≤ MAX`;
    case 'boolean':
      return 'true, false, 1 or 0';
    case 'string': {
      const what = definition.choices
        ? definition.choices.join(', ')
        : (definition.format?.expected ?? (definition.empty ? 'any' : 'not empty'));
      return definition.empty && what !== 'any' ? `${what}, or empty` : what;
    }
  }
}

/** What a value must be, as a refusal says it. */
function expectation(definition: SettingDefinition): string {
  switch (definition.kind) {
    case 'integer':
      return `a whole number from ${definition.min} to ${definition.max}`;
    case 'duration':
      return `a duration from ${definition.min} to ${definition.max}`;
    case 'durationRange':
      return `a duration or a range MIN..MAX with MIN ≤ MAX, each from ${definition.min} to ${definition.max}`;
    case 'boolean':
      return 'true, false, 1 or 0';
    case 'string':
      if (definition.choices) return `one of ${definition.choices.join(', ')}`;
      if (definition.format) return definition.empty ? `${definition.format.expected} or empty` : definition.format.expected;
      return 'a value that is not empty';
  }
}

/** A value as given: text (a flag, an environment variable, a default) or a typed value from code. */
export type SettingsInput = { [K in keyof Settings]?: Settings[K] | string };

/** Where a setting's value came from, to name it in a refusal as the operator wrote it. */
interface Origin {
  name: string;
  shown: string;
  isDefault: boolean;
}

function refuse(definition: SettingDefinition, origin: Origin): never {
  throw new ConfigError(`${origin.name} must be ${expectation(definition)}. Got '${origin.shown}'.`);
}

/** Runs a parser, naming the setting in its error. */
function parsed<T>(origin: Origin, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(`${origin.name}: ${error.message}`);
    throw error;
  }
}

function readInteger(definition: IntegerSetting, input: number | string, origin: Origin): number {
  const value = typeof input === 'number' ? input : /^\s*-?\d+\s*$/.test(input) ? Number(input) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < definition.min || value > definition.max) refuse(definition, origin);
  return value;
}

function readDuration(definition: DurationSetting, input: number | string, origin: Origin): number {
  const value = typeof input === 'number' ? input : parsed(origin, () => parseDuration(input));
  const within = (ms: number) => ms >= parseDuration(definition.min) && ms <= parseDuration(definition.max);
  if (!Number.isSafeInteger(value) || !within(value)) refuse(definition, origin);
  return value;
}

function readDurationRange(definition: DurationRangeSetting, input: DurationRange | string, origin: Origin): DurationRange {
  const value = typeof input === 'string' ? parsed(origin, () => parseDurationRange(input)) : input;
  const within = (ms: number) => Number.isSafeInteger(ms) && ms >= parseDuration(definition.min) && ms <= parseDuration(definition.max);
  if (!within(value.minMs) || !within(value.maxMs) || value.minMs > value.maxMs) refuse(definition, origin);
  return value;
}

function readBoolean(definition: BooleanSetting, input: boolean | string, origin: Origin): boolean {
  if (typeof input === 'boolean') return input;
  const text = input.toLowerCase();
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  return refuse(definition, origin);
}

function readString(definition: StringSetting, input: string, origin: Origin): string {
  if (input === '') return definition.empty ? input : refuse(definition, origin);
  if (definition.choices && !definition.choices.includes(input)) refuse(definition, origin);
  if (definition.format && !definition.format.test(input)) refuse(definition, origin);
  return input;
}

/** The value of a setting and where it came from: given (flag or code), else the environment, else the default. */
function sourceOf<T>(definition: SettingDefinition, given: T | string | undefined, env: NodeJS.ProcessEnv) {
  const show = (value: unknown) =>
    typeof value === 'object' && value !== null && 'minMs' in value && 'maxMs' in value
      ? `${formatDuration(Number(value.minMs))}..${formatDuration(Number(value.maxMs))}`
      : String(value);
  if (given !== undefined) {
    const name = typeof given === 'string' ? `--${definition.flag}` : definition.key;
    return { input: given, origin: { name, shown: show(given), isDefault: false } };
  }
  const fromEnv = env[definition.env];
  if (fromEnv !== undefined) return { input: fromEnv, origin: { name: definition.env, shown: fromEnv, isDefault: false } };
  return {
    input: definition.defaultValue,
    origin: { name: `--${definition.flag}`, shown: definition.defaultValue, isDefault: true },
  };
}

/**
 * Rules between settings, checked at start so a contradiction is refused before it shows in production. `name`
 * gives a setting as the operator wrote it, with its value.
 */
function crossCheck(settings: Settings, name: (key: keyof Settings) => string): void {
  const rules: [holds: boolean, why: () => string][] = [
    [
      settings.retryMaxMs >= settings.retryInitialMs,
      () =>
        `${name('retryMaxMs')} is shorter than ${name('retryInitialMs')}: the longest wait between attempts cannot be shorter than the first`,
    ],
    [
      settings.retentionMs > settings.retryMaxMs,
      () =>
        `${name('retentionMs')} must be longer than ${name('retryMaxMs')}, or a failing batch could fall out of retention ` +
        'between two attempts',
    ],
    [
      settings.disableAfterMs <= settings.retentionMs,
      () =>
        `${name('disableAfterMs')} must not be longer than ${name('retentionMs')}: a webhook failing longer than retention ` +
        'is already losing events, so it is disabled (and its owner told) by then at the latest',
    ],
    [
      settings.reminderEveryMs < settings.disableAfterMs,
      () =>
        `${name('reminderEveryMs')} must be shorter than ${name('disableAfterMs')}, or no reminder is sent before a webhook is disabled`,
    ],
  ];
  for (const [holds, why] of rules) if (!holds) throw new ConfigError(`${why()}.`);
}

/**
 * Builds the settings: defaults, overridden by environment variables, overridden by the given values (flags from
 * the command line, as text, or typed values from code and tests). Every value is checked against its range, and
 * the rules between settings are checked at the end; the first problem is thrown as a ConfigError naming the
 * setting as it was given and the value. An empty environment variable is a value like any other: accepted only
 * by the settings where empty means "none" (their default is empty), refused by the others.
 */
export function loadSettings(given: SettingsInput = {}, env: NodeJS.ProcessEnv = process.env): Settings {
  const settings: Partial<Settings> = {};
  const origins = new Map<keyof Settings, Origin>();
  for (const definition of definitions) {
    switch (definition.kind) {
      case 'integer': {
        const { input, origin } = sourceOf(definition, given[definition.key], env);
        settings[definition.key] = readInteger(definition, input, origin);
        origins.set(definition.key, origin);
        break;
      }
      case 'duration': {
        const { input, origin } = sourceOf(definition, given[definition.key], env);
        settings[definition.key] = readDuration(definition, input, origin);
        origins.set(definition.key, origin);
        break;
      }
      case 'durationRange': {
        const { input, origin } = sourceOf(definition, given[definition.key], env);
        settings[definition.key] = readDurationRange(definition, input, origin);
        origins.set(definition.key, origin);
        break;
      }
      case 'boolean': {
        const { input, origin } = sourceOf(definition, given[definition.key], env);
        settings[definition.key] = readBoolean(definition, input, origin);
        origins.set(definition.key, origin);
        break;
      }
      case 'string': {
        const { input, origin } = sourceOf(definition, given[definition.key], env);
        settings[definition.key] = readString(definition, input, origin);
        origins.set(definition.key, origin);
        break;
      }
    }
  }
  if (!isComplete(settings)) throw new Error('a setting has no definition');
  crossCheck(settings, (key) => {
    const origin = origins.get(key);
    if (!origin) return key;
    return `${origin.name} '${origin.shown}'${origin.isDefault ? ' (the default)' : ''}`;
  });
  return settings;
}

/** Whether every setting has its value (true after the loop over the definitions: each key has one, see above). */
function isComplete(settings: Partial<Settings>): settings is Settings {
  return definitions.every((definition) => settings[definition.key] !== undefined);
}

/** Whether the process runs under CI (the CI variable set), for stricter test preconditions. */
export function runningInCi(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.CI) && env.CI !== 'false';
}

/** PostgreSQL server the tests create their databases on. */
export function testPostgresUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.LEARNHOOK_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}
