import { LsError } from '../errors.js';
import type { SecretSource } from './types.js';

/**
 * Secrets printed by a command, run without a shell: `['pass', 'show', 'lsbackup/{name}']`.
 * `{name}` in an argument is replaced by the secret's name; without it the name is appended.
 * The name is also in LSBACKUP_SECRET_NAME. One trailing newline is dropped from stdout.
 */
export class CommandSecretSource implements SecretSource {
  constructor(
    private readonly command: readonly [string, ...string[]],
    private readonly timeoutMs = 30_000,
  ) {}

  async resolve(name: string): Promise<string> {
    const [file, ...args] = this.command;
    const hasPlaceholder = args.some((arg) => arg.includes('{name}'));
    const argv = hasPlaceholder ? args.map((arg) => arg.replaceAll('{name}', name)) : [...args, name];
    // Loaded on first use: most runs resolve no secret by command (execa is ~100 modules).
    const { execa } = await import('execa');
    const result = await execa(file, argv, {
      reject: false,
      stripFinalNewline: false,
      timeout: this.timeoutMs,
      env: { LSBACKUP_SECRET_NAME: name },
    });
    if (result.failed) {
      const why = result.timedOut ? 'timed out' : `exited with ${result.exitCode ?? result.signal ?? 'an error'}`;
      // stderr may echo the secret, so it is not included.
      throw new LsError('ESECRET', { name, message: `command ${file} ${why}` }, { cause: result.cause });
    }
    return String(result.stdout).replace(/\r?\n$/, '');
  }
}
