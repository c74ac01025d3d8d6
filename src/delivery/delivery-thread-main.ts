// The delivery thread's entry (started by delivery-thread.ts): a producer that only delivers, on its own connection.
import { parentPort, workerData } from 'node:worker_threads';
import { startProducer } from '../server.ts';
import { deliveryMetrics } from './delivery-metrics.ts';
import type { DeliveryThreadData, FromDeliveryThread, ToDeliveryThread } from './delivery-thread.ts';

const port = parentPort;
if (!port) throw new Error('delivery-thread-main runs only as the delivery thread');
const { settings, writeTurns } = workerData as DeliveryThreadData;
const producer = await startProducer(settings, { http: false, dispatch: true, deliveryOnly: true, writeTurns });
const { registry } = deliveryMetrics(producer.context);

port.on('message', (message: ToDeliveryThread) => {
  if (message.type === 'metrics') {
    const { id } = message;
    registry.metrics().then(
      (text) => port.postMessage({ type: 'metrics', id, text } satisfies FromDeliveryThread),
      (error: unknown) => port.postMessage({ type: 'metrics', id, error: (error as Error).message } satisfies FromDeliveryThread),
    );
  } else if (message.type === 'stop') {
    // Once stopped, nothing is left to keep the thread alive: it ends.
    void producer.stop().then(() => port.close());
  }
});
port.postMessage({ type: 'running' } satisfies FromDeliveryThread);
