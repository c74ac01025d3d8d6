// Help text shared by the commands: every command's --help ends with pasteable examples.
import type { Command } from 'commander';

/** Appends an "Examples" section to the command's --help. */
export function withExamples<C extends Command>(command: C, ...examples: string[]): C {
  command.addHelpText('after', `\nExamples:\n${examples.map((line) => `  $ ${line}`).join('\n')}\n`);
  return command;
}
