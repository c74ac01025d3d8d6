// Stops a long-running command (serve, worker, mirror, listen) cleanly on Ctrl-C or SIGTERM, once; or when one of its
// parts fails on its own, with exit code 1 so that whatever supervises it starts it again.

export function stopOnSignals(stop: () => Promise<void>, failed?: Promise<Error>): void {
  let stopping = false;
  const shutDown = (why: string, exitCode: number) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${why}, shutting down…\n`);
    stop().then(
      () => process.exit(exitCode),
      (error: unknown) => {
        process.stderr.write(`shutdown failed: ${(error as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutDown('SIGINT received', 0));
  process.once('SIGTERM', () => shutDown('SIGTERM received', 0));
  void failed?.then((error) => shutDown(error.message, 1));
}
