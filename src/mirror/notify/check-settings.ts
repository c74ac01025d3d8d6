// The notification settings' ranges and cross-field rules, checked when the mirror starts (not found out in production).
import { ConfigError, formatDuration, type Settings } from '../../config.ts';

type NotifySettings = Pick<
  Settings,
  | 'notifyRetryInitialMs'
  | 'notifyRetryMaxMs'
  | 'notifyGiveUpMs'
  | 'notifyDigestWindowMs'
  | 'notifyLeaseMs'
  | 'notifyPollMs'
  | 'notifyTimeoutMs'
>;

const ranges: Array<[keyof NotifySettings, string, number, number]> = [
  ['notifyRetryInitialMs', 'notify-retry-initial', 10, 3_600_000],
  ['notifyRetryMaxMs', 'notify-retry-max', 10, 86_400_000],
  ['notifyGiveUpMs', 'notify-give-up', 1000, 30 * 86_400_000],
  ['notifyDigestWindowMs', 'notify-digest-window', 1000, 86_400_000],
  ['notifyLeaseMs', 'notify-lease', 200, 3_600_000],
  ['notifyPollMs', 'notify-poll', 10, 60_000],
  ['notifyTimeoutMs', 'notify-timeout', 100, 300_000],
];

export function checkNotifySettings(settings: NotifySettings): void {
  for (const [key, flag, min, max] of ranges) {
    const value = settings[key];
    if (!Number.isFinite(value) || value < min || value > max) {
      throw new ConfigError(`--${flag} must be between ${formatDuration(min)} and ${formatDuration(max)}. Got ${formatDuration(value)}`);
    }
  }
  if (settings.notifyRetryMaxMs < settings.notifyRetryInitialMs) {
    throw new ConfigError(
      `--notify-retry-max must be at least --notify-retry-initial. Got ${formatDuration(settings.notifyRetryMaxMs)} and ${formatDuration(settings.notifyRetryInitialMs)}`,
    );
  }
  // The lease must outlast a whole send, or a second process would take a message over while it is still being sent.
  if (settings.notifyLeaseMs <= settings.notifyTimeoutMs * 2) {
    throw new ConfigError(
      `--notify-lease must be longer than twice --notify-timeout (a send may take that long). Got ${formatDuration(settings.notifyLeaseMs)} and ${formatDuration(settings.notifyTimeoutMs)}`,
    );
  }
}
