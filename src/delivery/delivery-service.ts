// The delivery service of a producer process: the dispatcher plus housekeeping, sharing one notifier.
import type { ProducerContext } from '../context.ts';
import { createFlowLog } from '../flow-log.ts';
import type { RunningService } from '../server.ts';
import { deliveryMetrics } from './delivery-metrics.ts';
import { Dispatcher } from './dispatcher.ts';
import { startHousekeeping } from './housekeeping.ts';
import { Notifier } from './notifier.ts';

export function startDelivery(context: ProducerContext): RunningService {
  const notifier = new Notifier(context.settings, context.logger.child({ part: 'mail' }));
  const metrics = deliveryMetrics(context);
  metrics.flow = createFlowLog(context.logger, context.settings.logSummaryEveryMs, (outcome, batches, amounts) => ({
    level: 'info',
    line:
      outcome === 'acknowledged'
        ? `delivered ${batches === 1 ? 'a batch' : `${batches} batches`} (${amounts.events} event${amounts.events === 1 ? '' : 's'}), acknowledged`
        : `${batches === 1 ? 'a delivery attempt' : `${batches} delivery attempts`} failed (${amounts.events} events to retry; GET …/webhooks/{id}/deliveries shows why)`,
  }));
  const dispatcher = new Dispatcher(context, notifier);
  const housekeeping = startHousekeeping(context, notifier);
  dispatcher.start();
  return {
    name: 'delivery',
    async stop() {
      await housekeeping.stop();
      await dispatcher.stop();
      notifier.close();
      metrics.flow?.stop();
      metrics.flow = undefined;
    },
  };
}
