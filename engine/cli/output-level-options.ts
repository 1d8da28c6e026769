/**
 * -q/--quiet and -v/--verbose on every command (before or after its name), handed to the
 * application layer once before the command runs, so every command's reporter honours them.
 */
import { Option, type Command } from 'commander';
import { setOutputLevel } from '../app/reporter.js';
import { allSubcommands } from './help-examples.js';

export function addOutputLevelOptions(program: Command): void {
  for (const cmd of [program, ...allSubcommands(program)]) {
    cmd
      .addOption(new Option('-q, --quiet', 'print only warnings, failures and a result that is not a success').conflicts('verbose'))
      .addOption(new Option('-v, --verbose', "also print the last lines each step wrote to stdout/stderr (a successful step's warnings too)"));
  }
  program.hook('preAction', (_program, action) => {
    const { quiet, verbose } = action.optsWithGlobals<{ quiet?: boolean; verbose?: boolean }>();
    setOutputLevel(quiet ? 'quiet' : verbose ? 'verbose' : 'normal');
  });
}
