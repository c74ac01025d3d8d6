// A mistake an operator can fix (wrong token, unreachable API, bad option): the CLI prints its message as one line.

export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    /** 2 for a wrong command line or setting, 1 for anything else that stopped the command. */
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

let databaseInUse: string | undefined;

/** Remembers the database a command opens, so a failure to open it can name it and say how to create it. */
export function noteDatabase(url: string): void {
  databaseInUse = url;
}

export function notedDatabase(): string | undefined {
  return databaseInUse;
}
