// Checkpoints a SQLite file's WAL from a worker thread, so no commit on the event loop stops to copy pages and sync.
import { createRequire } from 'node:module';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';

/**
 * The worker: its own connection to the file, a PASSIVE checkpoint every `everyMs` (it copies what no reader still
 * needs and never waits for a lock), closed when told to stop. Plain CommonJS, so it runs the same from the sources
 * and from `dist/`.
 */
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 0');
const timer = setInterval(() => db.pragma('wal_checkpoint(PASSIVE)'), workerData.everyMs);
parentPort.once('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/** How often the worker checkpoints: a WAL of a few MB at most between checkpoints under load. */
export const checkpointEveryMs = 500;

export interface WalCheckpointer {
  /** Stops the worker and closes its connection; the caller's connection checkpoints by itself again. */
  stop(): Promise<void>;
}

/**
 * Turns off the connection's own checkpoints (SQLite runs one inside the commit that crosses `fallbackPages`, on the
 * event loop: a copy of the pages and a file sync every few seconds at 500 events/s, ~2 ms of the producer's paced p99) and
 * checkpoints from a worker thread instead. Commits are as durable as before: they are in the WAL either way. Should
 * the worker fail, the connection checkpoints by itself again, every `fallbackPages`.
 */
export function checkpointInBackground(
  handle: BetterSqlite3.Database,
  file: string,
  options: { everyMs?: number; fallbackPages: number },
): WalCheckpointer {
  handle.pragma('wal_autocheckpoint = 0');
  const worker = new Worker(workerSource, {
    eval: true,
    workerData: {
      driver: createRequire(import.meta.url).resolve('better-sqlite3'),
      file: path.resolve(file),
      everyMs: options.everyMs ?? checkpointEveryMs,
    },
  });
  // Never what keeps the process alive.
  worker.unref();
  // However the worker ends (stopped, or failed), the connection checkpoints by itself again.
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve())).then(() => {
    if (handle.open) handle.pragma(`wal_autocheckpoint = ${Math.trunc(options.fallbackPages)}`);
  });
  worker.once('error', (error) =>
    process.emitWarning(
      `the thread that checkpoints ${file}'s WAL stopped (${error.message}); the database checkpoints inside its own commits again`,
    ),
  );
  let stopping = false;
  return {
    async stop() {
      if (!stopping) {
        stopping = true;
        worker.postMessage('stop');
        const timeout = setTimeout(() => void worker.terminate(), 5_000);
        void exited.then(() => clearTimeout(timeout));
      }
      await exited;
    },
  };
}
