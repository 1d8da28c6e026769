/** `lsbackup lsit`: a word where a command belongs is a usage error that names the closest command. */
import type { Command } from 'commander';
import { didYouMean } from '../schema/closest.js';

export function rejectUnknownCommand(program: Command, word: string): never {
  const hint = didYouMean(
    word,
    program.commands.map((c) => c.name()),
  );
  // exitOverride turns this into a CommanderError: exit 64 like every usage error.
  return program.error(`error: unknown command '${word}'${hint ? ` (${hint})` : ''}`, { exitCode: 64, code: 'commander.unknownCommand' });
}
