// Runs a background pass every interval, never two at once: the next pass is scheduled when the previous one ends.

export interface Repeating {
  /** Schedules no further pass and waits for the one in progress, if any. */
  stop(): Promise<void>;
}

/**
 * Runs `pass` every `intervalMs`, counted from the end of the previous pass, so a pass slower than the interval
 * delays the next one instead of queueing passes behind it. `pass` reports its own errors (a rejection is logged by
 * nobody): it must resolve.
 */
export function runEvery(intervalMs: number, pass: () => Promise<void>): Repeating {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  const schedule = () => {
    if (!stopped) timer = setTimeout(run, intervalMs);
  };
  const run = () => {
    current = pass().finally(schedule);
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await current;
    },
  };
}
