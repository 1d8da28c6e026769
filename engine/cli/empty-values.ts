/**
 * An option or argument given as '' (or blanks) is a usage error on every command: on a command
 * line it is nearly always a shell variable that is unset (`-c "$CONFIG"`), and taken as given
 * it meant something else — another config found instead, the working directory as the recipes,
 * a cluster named ''. No lsbackup option has a meaning for an empty value.
 */
import type { Command } from 'commander';

const isBlank = (value: unknown) => typeof value === 'string' && value.trim() === '';

export function refuseEmptyValues(program: Command): void {
  program.hook('preAction', (_program, action) => {
    const values = action.opts<Record<string, unknown>>();
    for (const option of action.options) {
      const value = values[option.attributeName()];
      if (isBlank(value) || (Array.isArray(value) && value.some(isBlank))) refuse(action, `option '${option.flags}'`);
    }
    action.registeredArguments.forEach((argument, i) => {
      const value = action.processedArgs[i];
      if (isBlank(value) || (Array.isArray(value) && value.some(isBlank))) refuse(action, `argument '${argument.name()}'`);
    });
  });
}

function refuse(action: Command, what: string): never {
  // exitOverride turns this into a CommanderError: exit 64 like every usage error.
  return action.error(`error: ${what} is empty (is a shell variable unset?): give a value, or leave it out`, { exitCode: 64, code: 'lsbackup.emptyValue' });
}
