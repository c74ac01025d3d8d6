// Waiting on what the code signals instead of sleeping: re-check a condition each time a signal fires (River's test
// signals, graphile-worker's events), with a deadline that only bounds a test that would otherwise hang.
import type { EventEmitter } from 'node:events';

type AnyEmitter = Pick<EventEmitter, 'on' | 'off'>;

/**
 * Resolves with the first value of `check` that is neither undefined nor false, checking at once and again whenever one
 * of `signals` fires on `emitter` (checks never overlap: a signal during a check asks for one more).
 */
export function untilSignalled<T>(
  emitter: AnyEmitter,
  signals: readonly string[],
  check: () => Promise<T | undefined | false> | T | undefined | false,
  options: { timeoutMs?: number; what?: string } = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise<T>((resolve, reject) => {
    let checking = false;
    let again = false;
    let done = false;
    const finish = (settle: () => void) => {
      done = true;
      clearTimeout(timer);
      for (const signal of signals) emitter.off(signal, run);
      settle();
    };
    function run() {
      if (done) return;
      if (checking) {
        again = true;
        return;
      }
      checking = true;
      Promise.resolve()
        .then(check)
        .then(
          (value) => {
            checking = false;
            if (value !== undefined && value !== false) return finish(() => resolve(value as T));
            if (again) {
              again = false;
              run();
            }
          },
          (error: unknown) => finish(() => reject(error)),
        );
    }
    const timer = setTimeout(
      () => finish(() => reject(new Error(`${options.what ?? 'the awaited condition'} did not hold within ${timeoutMs} ms`))),
      timeoutMs,
    );
    for (const signal of signals) emitter.on(signal, run);
    run();
  });
}

/** Resolves once `signal` has fired `count` times from now. */
export function signalled(emitter: AnyEmitter, signal: string, count = 1, timeoutMs = 60_000): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let seen = 0;
    const heard = () => {
      seen++;
      if (seen < count) return;
      clearTimeout(timer);
      emitter.off(signal, heard);
      resolve();
    };
    const timer = setTimeout(() => {
      emitter.off(signal, heard);
      reject(new Error(`${signal} fired ${seen} of ${count} times within ${timeoutMs} ms`));
    }, timeoutMs);
    emitter.on(signal, heard);
  });
}
