/**
 * What a test needs from this machine. A missing prerequisite FAILS the test, naming the Debian
 * package or capability to provide — a skip is never mistaken for a pass. The one way to leave
 * such tests out is an explicit environment switch, printed when used, which CI never sets:
 *   LSB_TESTS_WITHOUT=netns,tmpfs   (a comma-separated list of the tiers named below)
 */
import { execFileSync } from 'node:child_process';

export type Tier = 'netns' | 'tmpfs';

/** True when the user opted this tier out (a loud banner says so); tests then skip it. */
export function optedOut(tier: Tier, what: string): boolean {
  const out = (process.env.LSB_TESTS_WITHOUT ?? '')
    .split(',')
    .map((s) => s.trim())
    .includes(tier);
  if (out) console.error(`\n!!! LSB_TESTS_WITHOUT=${tier}: ${what} was NOT tested.\n`);
  return out;
}

/** `command` must run (`--version`), else an error naming the Debian package that provides it. */
export function requireCommand(command: string, debianPackage: string): void {
  try {
    execFileSync(command, ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error(`this test needs '${command}' from the Debian package ${debianPackage}: run sh test/infra/install-packages.sh (as root)`);
  }
}

/** Mounts a tmpfs at `path`, or throws saying the test needs root and the mount capability. */
export function mountTmpfs(path: string, options: string): void {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'lsbtest', path], { stdio: 'pipe' });
  } catch (e) {
    const why = String((e as { stderr?: Buffer }).stderr ?? (e as Error).message).trim();
    throw new Error(`this test needs to mount a tmpfs (root with CAP_SYS_ADMIN; or set LSB_TESTS_WITHOUT=tmpfs to leave it out): ${why}`);
  }
}
