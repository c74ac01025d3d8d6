// The learnhook command line. Only the commands' names, options and help load at start; each command's code is
// imported when it runs, so `learnhook --help` answers at once.
import { Command, CommanderError } from 'commander';
import { addCatalogCommands } from './catalog.ts';
import { addDemoCommand } from './demo.ts';
import { withExamples } from './help.ts';
import { addListenCommand } from './listen.ts';
import { addMirrorCommand } from './mirror.ts';
import { addProducerCommands } from './serve.ts';
import { addSimulateCommands } from './simulate.ts';
import { addWebhookCommands } from './webhooks.ts';

export const version = '0.1.0';

export function buildProgram(): Command {
  const program = new Command('learnhook')
    .description("A learning platform's webhook system: the platform, ordered signed delivery, and a mirror of the events.")
    .version(version)
    .showHelpAfterError()
    .configureHelp({ showGlobalOptions: true });
  withExamples(
    program,
    'learnhook serve --allow-private-targets',
    'learnhook webhooks create --api http://127.0.0.1:8080 --token TOKEN --account 1 --name mirror --url http://127.0.0.1:8090/webhook',
    'learnhook mirror --secret whsec_…',
    'learnhook listen --port 9000',
    'learnhook <command> --help',
  );

  addProducerCommands(program);
  addDemoCommand(program);
  addMirrorCommand(program);
  addListenCommand(program);
  addWebhookCommands(program);
  addSimulateCommands(program);
  addCatalogCommands(program);
  return program;
}

/** Runs the CLI; a mistake an operator can fix is printed as one plain line on stderr, without a stack. */
export async function main(argv: readonly string[]): Promise<void> {
  const program = buildProgram().exitOverride();
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    if (error instanceof CommanderError) process.exit(error.exitCode);
    const { describeError } = await import('./describe-error.ts');
    const described = describeError(error);
    if (described) {
      process.stderr.write(`learnhook: ${described.line}\n`);
      process.exit(described.exitCode);
    }
    // Not a mistake of the operator's: a defect. The stack helps whoever fixes it.
    process.stderr.write(`learnhook stopped on an unexpected error: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  }
}
