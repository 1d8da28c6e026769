/**
 * A round trip through the BUILT CLI from every kind of target (issue 18.2): `apply -t <target>`
 * backs up two real SSH hosts (test/fleet: sshd, sudo), `verify` checks the stored copy,
 * `restore <name> -t <target>` puts it back onto the wiped hosts, and every restored file is
 * compared with the original byte for byte (and mode, and symlink target).
 *
 * The targets, each as a user reaches it:
 * - a local directory;
 * - nfs://<mount point>: a BIND MOUNT, not an NFS export. This machine's kernel has neither the
 *   NFS server (no `nfsd` filesystem, so nfs-kernel-server cannot start) nor the NFS client
 *   (no `nfs` in /proc/filesystems), and a user-space server (nfs-ganesha) could not be mounted
 *   either. What nfs:// adds to a directory — it must be a mount point — is what runs here;
 *   the NFS protocol itself does not;
 * - s3:// on the REAL S3 server of the suite (OpenStack Swift's s3api, test/infra/swift.ts);
 * - azfile:// on the stand-in of the Azure Files REST API (test/infra/azure-file-standin.ts; no
 *   emulator has the File service), once with the account key (SharedKey signatures) and once
 *   with an account SAS token made by the Azure SDK the way the portal makes one.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readFile, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  generateAccountSASQueryParameters,
  StorageSharedKeyCredential,
} from '@azure/storage-file-share';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../fleet/fleet.js';
import { cliOutput, runCli, jsonEvents } from '../helpers/cli.js';
import { createCluster, type Cluster } from '../helpers/cluster.js';
import { optedOut } from '../helpers/prerequisites.js';
import { shareOf, startAzureFileStandIn, type AzureFileStandIn } from '../infra/azure-file-standin.js';
import { createBucket, startSwiftS3, type S3Server } from '../infra/swift.js';

const BUCKET = 'lsb-round-trip';
const SHARE = 'backups';
const HOSTS = ['host1', 'host2'];
const CLI_TIMEOUT_MS = 300_000;

let fleet: Fleet;
let cluster: Cluster;
let s3: S3Server;
let az: AzureFileStandIn;
let nfsMount: string | undefined;
let env: Record<string, string>;

/** An account SAS for the File service, as the portal's "Shared access signature" page makes one. */
function accountSas(permissions: string): string {
  return generateAccountSASQueryParameters(
    {
      expiresOn: new Date(Date.now() + 6 * 3600_000),
      permissions: AccountSASPermissions.parse(permissions),
      services: AccountSASServices.parse('f').toString(),
      resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
    },
    new StorageSharedKeyCredential(az.account, az.accountKey),
  ).toString();
}

/** A bind mount of `source` at `at`, or an error naming what the test needs. */
function bindMount(source: string, at: string): void {
  try {
    execFileSync('mount', ['--bind', source, at], { stdio: 'pipe' });
  } catch (e) {
    const why = String((e as { stderr?: Buffer }).stderr ?? (e as Error).message).trim();
    throw new Error(`this test needs a bind mount for the nfs:// target (root with CAP_SYS_ADMIN; or set LSB_TESTS_WITHOUT=tmpfs to leave it out): ${why}`);
  }
}

beforeAll(async () => {
  // One after another: sshd waits only so long for its port, and Swift's start-up is heavy.
  fleet = await startFleet({ hosts: HOSTS.length });
  [s3, az] = await Promise.all([startSwiftS3(), startAzureFileStandIn()]);
  cluster = await createCluster({ fleet, groups: Object.fromEntries(HOSTS.map((h) => [h, ['app']])), dataDirs: true });
  await createBucket(s3, BUCKET);
  await (await shareOf(az, SHARE)).create();
  env = { ...cluster.env, S3_KEY: s3.accessKeyId, S3_SECRET: s3.secretAccessKey, AZ_KEY: az.accountKey, AZ_SAS: accountSas('rwdlc') };
  // Root-owned data read and written back through sudo (become), as on a real cluster.
  await cluster.writeRecipe(
    'app',
    `hosts: { group: app, run: all }
vars: { data: /nonexistent }
become: true
backup:
  snapshot:
    - name: database dump
      run: cat {{vars.data}}/db.bin
      output: db.bin
  collect:
    - path: "{{vars.data}}/conf"
restore:
  apply:
    - run: cat > {{vars.data}}/db.bin
      input: db.bin
    - files: "{{vars.data}}/conf"
`,
  );
  if (!optedOut('tmpfs', 'the nfs:// target of the round trip')) {
    const exported = path.join(cluster.dir, 'nfs-export');
    nfsMount = path.join(cluster.dir, 'nfs-mount');
    await Promise.all([mkdir(exported), mkdir(nfsMount)]);
    bindMount(exported, nfsMount);
  }
}, 300_000);

afterAll(async () => {
  if (nfsMount) execFileSync('umount', [nfsMount]);
  await Promise.all([fleet?.stop(), s3?.stop(), az?.stop()]);
  await cluster?.cleanup();
});

/** Fresh data on every host, different per round trip (a restore of another backup would show). */
async function writeHostData(): Promise<void> {
  for (const host of HOSTS) {
    const data = cluster.dataDir(host);
    await rm(path.join(data, 'conf'), { recursive: true, force: true });
    await mkdir(path.join(data, 'conf/sub'), { recursive: true });
    await writeFile(path.join(data, 'conf/app.conf'), `host=${host}\nround=${randomBytes(8).toString('hex')}\n`);
    await chmod(path.join(data, 'conf/app.conf'), 0o640);
    // Larger than one 1 MiB block of the archive writer and than one Azure range of the tests' size.
    await writeFile(path.join(data, 'conf/sub/blob.bin'), randomBytes(3 * 1024 * 1024 + 17));
    await writeFile(path.join(data, 'conf/sub/empty'), '');
    await symlink('sub/blob.bin', path.join(data, 'conf/current'));
    await writeFile(path.join(data, 'db.bin'), randomBytes(1024 * 1024 + 5));
  }
}

// A file's bytes by their SHA-256 and size: equal digests are equal bytes, and comparing
// multi-MiB Buffers with toEqual (element by element, a diff on failure) takes minutes.
type Entry = { type: 'file'; mode: number; size: number; sha256: string } | { type: 'dir'; mode: number } | { type: 'symlink'; target: string };

/** Every file, directory and symlink under each host's data dir, with the digest of its bytes. */
async function snapshotHostData(): Promise<Map<string, Entry>> {
  const tree = new Map<string, Entry>();
  const walk = async (root: string, rel: string): Promise<void> => {
    const full = path.join(root, rel);
    const info = await lstat(full);
    if (info.isSymbolicLink()) tree.set(rel, { type: 'symlink', target: await readlink(full) });
    else if (info.isDirectory()) {
      tree.set(rel, { type: 'dir', mode: info.mode & 0o7777 });
      for (const name of (await readdir(full)).sort()) await walk(root, path.join(rel, name));
    } else {
      const bytes = await readFile(full);
      tree.set(rel, { type: 'file', mode: info.mode & 0o7777, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    }
  };
  for (const host of HOSTS) await walk(path.dirname(cluster.dataDir(host)), host);
  return tree;
}

/** What a lost cluster looks like: the config dirs gone, the database overwritten. */
async function wipeHostData(): Promise<void> {
  for (const host of HOSTS) {
    await rm(path.join(cluster.dataDir(host), 'conf'), { recursive: true, force: true });
    await writeFile(path.join(cluster.dataDir(host), 'db.bin'), 'destroyed\n');
  }
}

interface TargetCase {
  name: string;
  uri: () => string;
  /** Options and secrets as flags (secrets by reference, resolved from the environment). */
  flags: () => string[];
}

const targetCases: TargetCase[] = [
  { name: 'local directory', uri: () => path.join(cluster.dir, 'local-target'), flags: () => [] },
  {
    name: 'nfs:// (a bind mount: no NFS in this kernel)',
    uri: () => {
      if (!nfsMount) throw new Error('LSB_TESTS_WITHOUT=tmpfs: the nfs:// round trip was NOT tested');
      return `nfs://${nfsMount}`;
    },
    flags: () => [],
  },
  {
    name: 's3:// (real Swift s3api)',
    uri: () => `s3://${BUCKET}/round-trip`,
    flags: () => ['--s3-endpoint', s3.endpoint, '--s3-path-style', '--target-secret', 'accessKeyId=S3_KEY', '--target-secret', 'secretAccessKey=S3_SECRET'],
  },
  {
    name: 'azfile:// with the account key (SharedKey)',
    uri: () => `azfile://${az.account}/${SHARE}/shared-key/prod`,
    flags: () => ['--target-option', `endpoint=${az.endpoint}`, '--target-secret', 'accountKey=AZ_KEY'],
  },
  {
    name: 'azfile:// with an account SAS token',
    uri: () => `azfile://${az.account}/${SHARE}/sas/prod`,
    // Small ranges: the archive goes up in many Put Range calls, each authorised by the SAS.
    flags: () => ['--target-option', `endpoint=${az.endpoint}`, '--target-option', 'rangeSize=1048576', '--target-secret', 'sasToken=AZ_SAS'],
  },
];

const cli = (args: string[]) => runCli(args, { env, timeoutMs: CLI_TIMEOUT_MS });

describe('round trip through the CLI from every target: apply -> verify -> restore -> compare', () => {
  it.each(targetCases)(
    '$name',
    async (t) => {
      await writeHostData();
      const original = await snapshotHostData();
      const target = ['-t', t.uri(), ...t.flags()];

      const applied = await cli(['apply', cluster.recipes, '-b', cluster.build, ...target, '--json']);
      expect(applied.exitCode, cliOutput(applied)).toBe(0);
      const stored = applied.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { type: string; target?: string; name?: string })
        .filter((e) => e.type === 'archive.stored');
      expect(stored).toHaveLength(1);
      expect(stored[0]!.target).toBe(t.uri());
      const name = stored[0]!.name!;
      for (const secret of [s3.secretAccessKey, az.accountKey, env.AZ_SAS!]) expect(applied.stdout + applied.stderr).not.toContain(secret);

      const verified = await cli(['verify', name, ...target]);
      expect(verified.exitCode, cliOutput(verified)).toBe(0);
      expect(verified.stdout).toContain(`${name}: OK`);

      await wipeHostData();
      expect(await snapshotHostData()).not.toEqual(original);

      const restored = await cli(['restore', name, ...target, '-b', cluster.build, '--recipes', cluster.recipes, '--yes']);
      expect(restored.exitCode, cliOutput(restored)).toBe(0);
      expect(await snapshotHostData()).toEqual(original);
    },
    CLI_TIMEOUT_MS * 3,
  );

  it(
    'azfile:// with a SAS token whose signature is wrong: exit 1 naming the rejected SAS, nothing stored, the token never printed',
    async () => {
      const forgedSig = randomBytes(32).toString('base64');
      const forged = env.AZ_SAS!.replace(/sig=[^&]+/, `sig=${encodeURIComponent(forgedSig)}`);
      const uri = `azfile://${az.account}/${SHARE}/forged`;
      const r = await runCli(
        ['apply', cluster.recipes, '-b', cluster.build, '-t', uri, '--target-option', `endpoint=${az.endpoint}`, '--target-secret', 'sasToken=FORGED_SAS'],
        {
          env: { ...env, FORGED_SAS: forged },
          timeoutMs: CLI_TIMEOUT_MS,
        },
      );
      expect(r.exitCode, cliOutput(r)).toBe(1);
      expect(r.stderr).toMatch(/Target azfile:\/\/devstoreaccount1\/backups\/forged: .*the account key or SAS token was rejected \(AuthenticationFailed\)/);
      for (const secret of [forgedSig, encodeURIComponent(forgedSig)]) expect(r.stdout + r.stderr).not.toContain(secret);
      const list = await runCli(['list', '-t', uri, '--target-option', `endpoint=${az.endpoint}`, '--target-secret', 'accountKey=AZ_KEY', '--json'], { env });
      expect(list.exitCode, cliOutput(list)).toBe(0);
      expect(jsonEvents(list.stdout, 'list.backup')).toEqual([]);
    },
    CLI_TIMEOUT_MS,
  );
});
