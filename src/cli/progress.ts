// Progress of long commands: a bar on a terminal (stderr), nothing in a pipe or a log, so scripts see only the result.
import type { SingleBar } from 'cli-progress';

export interface Progress {
  /** Sets the position (and the fields the format names, e.g. {rows}). */
  update(value: number, fields?: Record<string, unknown>): void;
  /** Changes the total (e.g. once it is known). */
  setTotal(total: number): void;
  stop(): void;
}

const quiet: Progress = { update() {}, setTotal() {}, stop() {} };

/** A progress bar on stderr when it is a terminal, else a no-op. `format` uses cli-progress tokens ({bar}, {value}…). */
export async function progressOnTerminal(format: string, total: number, fields: Record<string, unknown> = {}): Promise<Progress> {
  if (!process.stderr.isTTY) return quiet;
  const { SingleBar: Bar } = await import('cli-progress');
  const bar: SingleBar = new Bar({ format, stream: process.stderr, hideCursor: true, clearOnComplete: false, etaBuffer: 50 });
  bar.start(total, 0, fields);
  let stopped = false;
  return {
    update: (value, more) => bar.update(value, more ?? {}),
    setTotal: (value) => bar.setTotal(value),
    stop: () => {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
