// `serve`'s delivery on a thread of its own: the dispatcher and housekeeping run beside the API's thread, on their own
// connection to the same database, so the two share the machine's cores instead of one event loop.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ProducerContext } from '../context.ts';
import type { RunningService } from '../server.ts';
import { deliveryMetrics } from './delivery-metrics.ts';

/** What the API's thread asks the delivery thread. */
export type ToDeliveryThread = { type: 'metrics'; id: number } | { type: 'stop' };
/** What the delivery thread answers. */
export type FromDeliveryThread =
  | { type: 'running' }
  | { type: 'metrics'; id: number; text: string }
  | { type: 'metrics'; id: number; error: string };

export interface DeliveryThreadData {
  settings: ProducerContext['settings'];
  /** The API thread's turns at writing its SQLite file, so the two threads hand the write lock to each other. */
  writeTurns?: SharedArrayBuffer;
}

/**
 * The thread's first lines, plain CommonJS so that they run the same from the sources and from `dist/`: from the
 * sources (`.ts`), the TypeScript loader is registered in the thread before its entry module loads.
 */
const bootstrap = `
const { workerData } = require('node:worker_threads');
(async () => {
  if (workerData.loader) (await import(workerData.loader)).register();
  await import(workerData.entry);
})().catch((error) => { setImmediate(() => { throw error; }); });
`;

/**
 * The thread's young generation, in MB (V8 gives a thread 48: two 16 MiB semi-spaces and room for large objects).
 * Draining 1,000,000 logged events peaked at 311-317 MiB of RSS with 48 and 295-299 with 24, at the same speed
 * (100,000 events at batch 100: 60-74k events/s with 24, 55-67k with 48, three alternate runs each); at 8 the drain
 * was 40 % slower. A flag `--max-semi-space-size` given to node still decides it, for this thread too.
 */
const youngGenerationMb = 24;

/** How long a stop waits for the thread's deliveries in flight before it ends the thread. */
const stopGraceMs = 60_000;

/** The thread's entry module beside this one (`.ts` from the sources, `.js` from `dist/`), or the file given. */
function entryModule(file?: string): { entry: string; loader?: string } {
  const here = fileURLToPath(import.meta.url);
  const entryFile = file ?? path.join(path.dirname(here), `delivery-thread-main${path.extname(here)}`);
  const entry = pathToFileURL(entryFile).href;
  return path.extname(entryFile) === '.ts' ? { entry, loader: import.meta.resolve('tsx/esm/api') } : { entry };
}

/**
 * Starts the delivery thread and resolves once it delivers. Its metrics are what this thread's `GET /metrics` shows;
 * wake-ups reach it through the cluster session (`LocalSession` between threads, LISTEN/NOTIFY on PostgreSQL). If it
 * fails later, `failed` resolves with the reason: its deliveries stop, so the process should stop too. `entryFile`
 * replaces the thread's entry module (tests start one that fails).
 */
export async function startDeliveryThread(context: ProducerContext, options: { entryFile?: string } = {}): Promise<RunningService> {
  const worker = new Worker(bootstrap, {
    eval: true,
    resourceLimits: { maxYoungGenerationSizeMb: youngGenerationMb },
    workerData: {
      ...entryModule(options.entryFile),
      settings: context.settings,
      writeTurns: context.database.writeTurns?.shared,
    } satisfies DeliveryThreadData & { entry: string },
  });
  let stopping = false;
  const { threadId } = worker;
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve)).then((code) => {
    // A thread that ended inside a transaction never gives its write turn back.
    context.database.writeTurns?.freeFrom(threadId);
    return code;
  });
  let lastError: Error | undefined;
  worker.on('error', (error) => {
    lastError = error;
  });
  const answers = new Map<number, { resolve(text: string): void; reject(error: Error): void }>();
  let nextId = 0;
  const running = new Promise<void>((resolve, reject) => {
    worker.on('message', (message: FromDeliveryThread) => {
      if (message.type === 'running') return resolve();
      const answer = answers.get(message.id);
      answers.delete(message.id);
      if ('text' in message) answer?.resolve(message.text);
      else answer?.reject(new Error(`the delivery thread could not read its metrics: ${message.error}`));
    });
    void exited.then((code) =>
      reject(new Error(`the delivery thread could not start: ${lastError?.message ?? `it exited with code ${code}`}`)),
    );
  });
  await running;

  const metrics = deliveryMetrics(context);
  metrics.onThread = () =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      answers.set(id, { resolve, reject });
      worker.postMessage({ type: 'metrics', id } satisfies ToDeliveryThread);
    });
  const failed = exited.then((code) => {
    metrics.onThread = undefined;
    // A thread that has stopped answers nothing more.
    for (const answer of answers.values()) answer.reject(new Error('the delivery thread has stopped'));
    answers.clear();
    // A stop that was asked for is no failure.
    if (stopping) return new Promise<Error>(() => {});
    return new Error(
      `the delivery thread stopped on its own (${lastError?.message ?? `exit code ${code}`}); webhooks are not being delivered`,
    );
  });
  return {
    name: 'delivery thread',
    failed,
    async stop() {
      stopping = true;
      worker.postMessage({ type: 'stop' } satisfies ToDeliveryThread);
      const timer = setTimeout(() => void worker.terminate(), stopGraceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
