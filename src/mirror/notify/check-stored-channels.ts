// At the mirror's start: checks that the stored rules' channels answer; a dead one is logged by rule and field and shown as failing.
import type { MirrorContext } from '../mirror-context.ts';
import { type Channels, checkChannels } from './channels.ts';
import { channelKey } from './rules.ts';
import { listRules } from './rules-store.ts';
import { recordChannelOutcome } from './send-notifications.ts';

/**
 * Never throws. The mirror still starts: refusing to would stop it from receiving, and the rule's messages wait in
 * the outbox (retried with backoff) until the channel answers, so nothing is lost.
 */
export async function checkStoredChannels(context: MirrorContext, channels: Channels): Promise<void> {
  try {
    const rules = (await listRules(context.database.db)).map((rule) => rule.definition).filter((rule) => rule.enabled !== false);
    for (const rule of rules) {
      const [problem] = await checkChannels([rule], channels, context.settings.notifyTimeoutMs);
      if (!problem) continue;
      context.logger.error(`${problem}; its notifications wait in the outbox until it answers`);
      await recordChannelOutcome(context, channelKey(rule.channel), problem);
    }
  } catch (error) {
    context.logger.error({ err: error }, 'could not check the notification channels at start');
  }
}
