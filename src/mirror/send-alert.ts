// Tells the operator about a sequence gap, a lag beyond the threshold or a set-aside inbox row: a POST to the alert URL, or a log line.
import type { MirrorContext } from './mirror-context.ts';

export interface MirrorAlert {
  kind: 'gap' | 'lag' | 'unprocessable';
  message: string;
  accountId?: number;
  firstMissing?: number;
  lastMissing?: number;
  lagMs?: number;
  inboxId?: number;
}

/** Never throws: an unreachable alert endpoint is itself logged, and projection goes on. */
export async function sendAlert(context: MirrorContext, alert: MirrorAlert): Promise<void> {
  const body = { ...alert, at: new Date(context.now()).toISOString(), source: 'learnhook-mirror' };
  context.logger.warn({ alert: body }, `ALERT: ${alert.message}`);
  const url = context.settings.alertUrl;
  if (!url) return;
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    if (!response.ok) context.logger.error(`the alert endpoint ${url} answered ${response.status}`);
  } catch (error) {
    context.logger.error(`could not POST the alert to ${url}: ${(error as Error).message}`);
  }
}
