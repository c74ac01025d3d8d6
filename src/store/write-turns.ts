// The threads of one process that write one SQLite file take turns at its write lock through a word of shared memory.
import { threadId } from 'node:worker_threads';

/**
 * A turn at writing a SQLite file, shared by the threads of this process that have it open (the API thread and the
 * delivery thread of `serve`). SQLite lets one connection write at a time; a connection that finds the file locked
 * sleeps in its busy handler 1, 2, 5, 10, 15, 20, 25… ms between tries, and a thread that writes often can take the
 * lock again in every gap, so the other waits a long time: paced at 500 events/s, the delivery thread made the p99
 * 98–116 ms against 16–20 ms on one thread. Here a thread waits (`Atomics.wait`) on a word naming the thread holding the
 * turn, and wakes the moment that thread lets go. Another process on the same file is still waited for by SQLite.
 *
 * The turn is taken for a whole transaction (BEGIN IMMEDIATE to COMMIT or ROLLBACK) and around each write made outside
 * one; the thread holding it never waits for another thread, so taking turns cannot deadlock.
 */
export class WriteTurns {
  /** The memory to hand to another thread, which opens the file with `new WriteTurns(shared)`. */
  readonly shared: SharedArrayBuffer;
  readonly #word: Int32Array;
  readonly #me = threadId + 1;
  readonly #waitLimitMs: number;
  #held = false;

  /** `waitLimitMs`: how long a thread waits for its turn before its write fails as SQLite's own would (busy_timeout). */
  constructor(shared = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT), waitLimitMs = 10_000) {
    this.shared = shared;
    this.#word = new Int32Array(shared);
    this.#waitLimitMs = waitLimitMs;
  }

  /** Waits until this thread holds the turn (at once if it already does). */
  take(): void {
    if (this.#held) return;
    const deadline = Date.now() + this.#waitLimitMs;
    for (;;) {
      const holder = Atomics.compareExchange(this.#word, 0, 0, this.#me);
      if (holder === 0) break;
      const left = deadline - Date.now();
      if (left <= 0)
        throw Object.assign(
          new Error(`database is locked: another thread of this process has held its write turn for ${this.#waitLimitMs} ms`),
          { code: 'SQLITE_BUSY' },
        );
      Atomics.wait(this.#word, 0, holder, left);
    }
    this.#held = true;
  }

  /** Lets the next thread write. */
  give(): void {
    if (!this.#held) return;
    this.#held = false;
    Atomics.store(this.#word, 0, 0);
    Atomics.notify(this.#word, 0, 1);
  }

  /** Frees the turn if the thread `id` held it when it ended (it will never give it back). */
  freeFrom(id: number): void {
    if (Atomics.compareExchange(this.#word, 0, id + 1, 0) === id + 1) Atomics.notify(this.#word, 0, 1);
  }
}
