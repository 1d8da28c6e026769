import { execFileSync } from 'node:child_process';

/** True when `command --version` runs: tests that need a real tool skip cleanly without it. */
export function hasCommand(command: string): boolean {
  try {
    execFileSync(command, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
