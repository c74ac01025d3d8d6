// The delivery service of a producer process: the dispatcher plus housekeeping, sharing one notifier.
import type { ProducerContext } from '../context.ts';
import type { RunningService } from '../server.ts';
import { Dispatcher } from './dispatcher.ts';
import { startHousekeeping } from './housekeeping.ts';
import { Notifier } from './notifier.ts';

export function startDelivery(context: ProducerContext): RunningService {
  const notifier = new Notifier(context.settings, context.logger.child({ part: 'mail' }));
  const dispatcher = new Dispatcher(context, notifier);
  const housekeeping = startHousekeeping(context, notifier);
  dispatcher.start();
  return {
    name: 'delivery',
    async stop() {
      await housekeeping.stop();
      await dispatcher.stop();
      notifier.close();
    },
  };
}
