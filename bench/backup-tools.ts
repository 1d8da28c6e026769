/**
 * restic and borg as the `incremental` group runs them (bench/incremental.ts): on the data host
 * (inside its network namespace, `ip netns exec`), pushing to a repository on the other side of
 * the host's link over SSH — restic through sftp, borg through `borg serve` — as they are
 * deployed. The repository side is one more sshd of the fleet's kind (test/fleet/fleet.ts) on the
 * bridge's address in the root namespace, so every byte any of the three tools moves crosses the
 * host's veth, whose counters the group reads.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SUDO_USER, startSshd, stopSshd } from '../test/fleet/fleet.js';
import type { NetnsFleet } from '../test/fleet/netns.js';
import { killAtExit } from '../test/infra/servers/common.js';

/** Fixed and never printed: restic refuses a repository without a password; the figures do not depend on it. */
const RESTIC_PASSWORD = 'lsbackup-bench-restic';

/** The Debian package each tool comes from, for the error when one is missing. */
const PACKAGES = { restic: 'restic', borg: 'borgbackup' } as const;

/** `<tool> --version` output, or an error naming the Debian package to install. */
export function toolVersion(tool: keyof typeof PACKAGES): string {
  try {
    return execFileSync(tool, [tool === 'restic' ? 'version' : '--version'], { encoding: 'utf8' }).trim();
  } catch (e) {
    throw new Error(
      `the incremental benchmark compares with ${tool}, which is not installed (${(e as Error).message}): ` +
        `install the Debian package '${PACKAGES[tool]}' (listed in test/infra/apt-packages.txt; test/infra/install-packages.sh installs it)`,
    );
  }
}

export interface RepositoryHost {
  /** argv of one restic command run on the data host against its repository. */
  restic(...args: string[]): string[];
  /** argv of one borg command run on the data host; `repo` is the repository URL (`ssh://…`). */
  borg(...args: string[]): string[];
  borgRepo: string;
  /** The local directories the repositories are in (for their size). */
  resticDir: string;
  borgDir: string;
  /** Environment both tools need (cache dirs inside the bench's work dir, the restic password). */
  env: NodeJS.ProcessEnv;
  /** Creates empty repositories (restic: repository version 2, the one with compression; borg: unencrypted). */
  init(): void;
  stop(): Promise<void>;
}

/**
 * Starts the repository side: an sshd on the bridge's address (the root namespace, reachable
 * from the host over its link), repositories in `repoRoot` owned by the fleet user.
 */
export async function startRepositoryHost(link: NetnsFleet, repoRoot: string, work: string): Promise<RepositoryHost> {
  const host = link.hosts[0]!;
  // netns.ts: the bridge is .1 of the host's /24.
  const address = host.address.replace(/\.\d+$/, '.1');
  const { host: repoHost, child } = await startSshd(link.dir, 'repository', address, join(link.dir, 'authorized_keys'), 'ERROR');
  killAtExit(repoHost.pid);
  const knownHosts = join(work, 'repository-known-hosts');
  writeFileSync(knownHosts, `[${repoHost.address}]:${repoHost.port} ${repoHost.hostPublicKey}\n`);
  const resticDir = join(repoRoot, 'restic');
  const borgDir = join(repoRoot, 'borg');
  const namespace = `${link.bridge}-h1`;
  // The cipher lsbackup prefers (engine/executors/ssh/connect.ts), as the `single` group's baselines use.
  const ssh = `ssh -T -c aes128-gcm@openssh.com -o BatchMode=yes -o IdentitiesOnly=yes -i ${link.clientKey} -o UserKnownHostsFile=${knownHosts}`;
  const onHost = (argv: string[]) => ['ip', 'netns', 'exec', namespace, ...argv];
  const resticRepo = `sftp:${SUDO_USER}@${repoHost.address}:${resticDir}`;
  const borgRepo = `ssh://${SUDO_USER}@${repoHost.address}:${repoHost.port}${borgDir}`;
  const restic = (...args: string[]) =>
    onHost(['restic', '-r', resticRepo, '-o', `sftp.command=${ssh} -p ${repoHost.port} ${SUDO_USER}@${repoHost.address} -s sftp`, ...args]);
  const borg = (...args: string[]) => onHost(['borg', ...args]);
  const env = {
    RESTIC_PASSWORD,
    RESTIC_CACHE_DIR: join(work, 'restic-cache'),
    BORG_RSH: ssh,
    // Cache, keys and security dirs inside the work dir: nothing left behind in root's home.
    BORG_BASE_DIR: join(work, 'borg-home'),
    BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
    BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
  };
  return {
    resticDir,
    borgDir,
    borgRepo,
    restic,
    borg,
    env,
    init: () => {
      // Owned by the fleet user: sftp and `borg serve` run as it and create the repositories.
      mkdirSync(repoRoot, { recursive: true, mode: 0o755 });
      execFileSync('chown', [SUDO_USER, repoRoot]);
      const exec = (argv: string[]) => execFileSync(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, stdio: 'pipe' });
      exec(restic('init', '--repository-version', '2'));
      exec(borg('init', '-e', 'none', borgRepo));
    },
    stop: () => stopSshd(child),
  };
}
