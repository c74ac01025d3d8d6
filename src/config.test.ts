// Settings are checked where they enter: each has a range, cross-field rules hold at start, and every refusal names the setting and the value given.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadSettings, parseDuration, type Settings, settingDefinitions, settingRange } from './config.ts';

/** Loads from flags given as text (as the CLI passes them) and an environment. */
function load(flags: Partial<Record<keyof Settings, string>>, env: NodeJS.ProcessEnv = {}) {
  return loadSettings(flags, env);
}

function refused(run: () => unknown, ...fragments: (string | RegExp)[]) {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    for (const fragment of fragments) {
      if (typeof fragment === 'string') assert.ok(error.message.includes(fragment), `"${error.message}" does not mention ${fragment}`);
      else assert.match(error.message, fragment);
    }
    return true;
  });
}

describe('ranges', () => {
  test('--batch-max 0 and -1 are refused, naming the flag and the value given', () => {
    refused(() => load({ batchMax: '0' }), '--batch-max', "'0'");
    refused(() => load({ batchMax: '-1' }), '--batch-max', "'-1'");
  });

  test('--concurrency 0, --retry-initial 0ms, --retention 0s and --poll-interval 0ms are refused', () => {
    refused(() => load({ concurrency: '0' }), '--concurrency', "'0'");
    refused(() => load({ retryInitialMs: '0ms' }), '--retry-initial', "'0ms'");
    refused(() => load({ retentionMs: '0s' }), '--retention', "'0s'");
    refused(() => load({ pollIntervalMs: '0ms' }), '--poll-interval', "'0ms'");
  });

  test('an environment variable out of range is refused under its own name', () => {
    refused(() => load({}, { LEARNHOOK_BATCH_MAX: '0' }), 'LEARNHOOK_BATCH_MAX', "'0'");
    refused(() => load({}, { LEARNHOOK_PORT: '70000' }), 'LEARNHOOK_PORT', "'70000'");
  });

  test('values given as typed values from code are held to the same ranges', () => {
    refused(() => loadSettings({ batchMax: 0 }, {}), 'batchMax', "'0'");
    refused(() => loadSettings({ pollIntervalMs: -5 }, {}), 'pollIntervalMs', "'-5'");
    refused(() => loadSettings({ concurrency: 1.5 }, {}), 'concurrency', "'1.5'");
  });

  test('the largest values a setting takes are bounded too (a timer cannot wait longer than 24 days)', () => {
    refused(() => load({ pollIntervalMs: '30d' }), '--poll-interval', "'30d'");
    refused(() => load({ retryJitter: '101' }), '--retry-jitter', "'101'");
  });

  test('a setting with a fixed set of values refuses others', () => {
    refused(() => load({ logLevel: 'loud' }), '--log-level', "'loud'", 'info');
  });

  test('the defaults are all within range, and every definition says its range', () => {
    const settings = loadSettings({}, {});
    assert.equal(settings.batchMax, 100);
    assert.equal(settings.retryInitialMs, 5000);
    for (const definition of settingDefinitions) assert.ok(settingRange(definition).length > 0, `${definition.key} documents no range`);
  });

  test('values at the edges of their ranges are accepted', () => {
    const settings = load({
      batchMax: '1',
      concurrency: '1',
      retryInitialMs: '10ms',
      retryMaxMs: '100ms',
      pollIntervalMs: '10ms',
      retentionMs: '1s',
      disableAfterMs: '1s',
      reminderEveryMs: '500ms',
    });
    assert.equal(settings.batchMax, 1);
    assert.equal(settings.pollIntervalMs, 10);
    assert.equal(settings.retentionMs, 1000);
  });
});

describe('durations need a unit', () => {
  test('a bare number is refused with a message saying which units to add', () => {
    refused(() => load({ retryInitialMs: '5000' }), '--retry-initial', "'5000'", /ms, s, m, h or d/);
    refused(() => parseDuration('250'), /ms, s, m, h or d/);
    refused(() => load({}, { LEARNHOOK_PROGRESS_DELAY: '0..900' }), 'LEARNHOOK_PROGRESS_DELAY', /unit/);
  });

  test('each unit is read', () => {
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('7d'), 604_800_000);
  });
});

describe('booleans', () => {
  test('LEARNHOOK_ALLOW_PRIVATE_TARGETS= (empty) is refused, not read as on: the SSRF guard stays on', () => {
    refused(() => load({}, { LEARNHOOK_ALLOW_PRIVATE_TARGETS: '' }), 'LEARNHOOK_ALLOW_PRIVATE_TARGETS', "''", /true, false, 1 or 0/);
  });

  test('true, false, 1 and 0 in any case are read; yes, on and others are refused', () => {
    for (const [text, value] of [
      ['true', true],
      ['TRUE', true],
      ['1', true],
      ['false', false],
      ['False', false],
      ['0', false],
    ] as const) {
      assert.equal(load({}, { LEARNHOOK_ALLOW_PRIVATE_TARGETS: text }).allowPrivateTargets, value, text);
    }
    for (const text of ['yes', 'on', 'no', 'off', ' ', 'tru']) {
      refused(() => load({}, { LEARNHOOK_ALLOW_PRIVATE_TARGETS: text }), 'LEARNHOOK_ALLOW_PRIVATE_TARGETS');
    }
  });
});

describe('empty environment variables', () => {
  test('an empty value is refused where a setting needs one, and means "none" where none is allowed', () => {
    refused(() => load({}, { LEARNHOOK_BATCH_MAX: '' }), 'LEARNHOOK_BATCH_MAX', "''");
    refused(() => load({}, { LEARNHOOK_RETENTION: '' }), 'LEARNHOOK_RETENTION', "''");
    refused(() => load({}, { LEARNHOOK_HOST: '' }), 'LEARNHOOK_HOST', "''");
    assert.equal(load({}, { LEARNHOOK_SMTP_URL: '' }).smtpUrl, '');
    assert.equal(load({}, { LEARNHOOK_ADMIN_TOKEN: '' }).adminToken, '');
  });
});

describe('cross-checks at start', () => {
  test('--retry-max below --retry-initial is refused', () => {
    refused(() => load({ retryInitialMs: '10s', retryMaxMs: '5s' }), '--retry-max', '--retry-initial', "'5s'", "'10s'");
    assert.equal(load({ retryInitialMs: '5s', retryMaxMs: '5s' }).retryMaxMs, 5000);
  });

  test('--lease may be shorter than a send: the worker renews it while the send is in flight', () => {
    assert.equal(load({ leaseMs: '1s' }).leaseMs, 1000);
  });

  test('--disable-after may not exceed --retention, and --reminder-every must come before --disable-after', () => {
    refused(() => load({ retentionMs: '1d', disableAfterMs: '2d' }), '--disable-after', '--retention');
    refused(() => load({ disableAfterMs: '1d', reminderEveryMs: '1d' }), '--reminder-every', '--disable-after');
  });

  test('--retention must outlast --retry-max, or a failing batch could fall out of retention between two attempts', () => {
    refused(
      () => load({ retentionMs: '2s', disableAfterMs: '2s', reminderEveryMs: '1s', retryInitialMs: '1s', retryMaxMs: '5s' }),
      '--retention',
      '--retry-max',
    );
  });

  test('--progress-delay MIN..MAX needs MIN ≤ MAX', () => {
    refused(() => load({ progressDelay: '10s..5s' }), '--progress-delay', "'10s..5s'");
  });

  test('a cross-check names where each value came from', () => {
    refused(() => load({ retryMaxMs: '1s' }, { LEARNHOOK_RETRY_INITIAL: '2s' }), '--retry-max', 'LEARNHOOK_RETRY_INITIAL');
  });
});
