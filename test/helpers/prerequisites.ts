/**
 * What a test needs from this machine. A missing prerequisite FAILS the test, naming the Debian
 * package or capability to provide — a skip is never mistaken for a pass. The one way to leave
 * such tests out is an explicit environment switch, printed when used, which CI never sets:
 *   LSB_TESTS_WITHOUT=netns,tmpfs,loop   (a comma-separated list of the tiers named below)
 */
import { execFileSync } from 'node:child_process';

export type Tier = 'netns' | 'tmpfs' | 'loop';

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

/**
 * Mounts at `path` a small ext4 made in `image` with 128-byte inodes, whose file times are whole
 * seconds (as on ext3, or ext4 made that way), or throws saying what the test needs.
 */
export function mountWholeSecondExt4(image: string, path: string): void {
  try {
    execFileSync('truncate', ['-s', '16M', image], { stdio: 'pipe' });
    execFileSync('mkfs.ext4', ['-q', '-F', '-I', '128', image], { stdio: 'pipe' });
    execFileSync('mount', ['-o', 'loop', image, path], { stdio: 'pipe' });
  } catch (e) {
    const why = String((e as { stderr?: Buffer }).stderr ?? (e as Error).message).trim();
    throw new Error(
      `this test needs to loop-mount an ext4 image (root, a loop device, mkfs.ext4 from the Debian package e2fsprogs; or set LSB_TESTS_WITHOUT=loop to leave it out): ${why}`,
    );
  }
}
