import path from 'node:path';
import type { Config } from '../config/load.js';
import { LsError } from '../errors.js';
import { MAX_CLUSTER_NAME_LENGTH, sanitizeClusterName } from '../archive/names.js';
import { loadInventory } from '../inventory/index.js';
import type { Inventory } from '../inventory/types.js';
import { buildDirProfileValues, loadProfiles, type ProfileValues } from '../profiles/index.js';
import type { Redactor } from '../secrets/types.js';

/** What names the cluster being worked on: -b / --cluster (or a job's `build` / `cluster`). */
export interface ClusterFlags {
  build?: string;
  cluster?: string;
}

/** Inventory keys whose values are connection passwords: secrets too. */
const PASSWORD_VARS = ['ansible_password', 'ansible_ssh_pass', 'ansible_become_password', 'ansible_become_pass', 'ansible_ssh_private_key_passphrase'];

/** -b wins over the config's `build`. The inventory's passwords join the run's redactor. */
export async function loadRunInventory(flags: ClusterFlags, config: Config, redactor: Redactor): Promise<Inventory> {
  const build = flags.build ?? config.build;
  if (!build) {
    throw new LsError('EUSAGE', { message: 'no build directory: pass -b <build dir or inventory>, or set `build` in lsbackup.config.yaml' });
  }
  const inventory = await loadInventory(path.resolve(build));
  for (const host of inventory.hosts.values()) {
    for (const key of PASSWORD_VARS) {
      const v = host.vars[key];
      if (typeof v === 'string') redactor.add(v, `inventory host '${host.name}' ${key}`);
    }
  }
  return inventory;
}

/** Values the build dir's manifest gives through a bundled profile (LambdaStack's manifest.yml), if any. */
export async function loadRunProfile(inventory: Inventory): Promise<ProfileValues | undefined> {
  return buildDirProfileValues(inventory.baseDir, await loadProfiles());
}

/** The cluster name: --cluster, the config's (for the config's own build dir), else the build directory's name. */
export function clusterName(flags: ClusterFlags, config: Config, inventory: Inventory): string {
  // The config's name belongs to the config's build dir: `-b other/` names its own cluster.
  const configNamesThisBuild = flags.build === undefined || (config.build !== undefined && path.resolve(flags.build) === config.build);
  return flags.cluster ?? (configNamesThisBuild ? config.cluster : undefined) ?? path.basename(inventory.baseDir);
}

/** A cluster whose backup names no target could store is refused before anything runs (names.ts). */
export function refuseLongClusterName(cluster: string): void {
  const inNames = sanitizeClusterName(cluster);
  if (inNames.length <= MAX_CLUSTER_NAME_LENGTH) return;
  throw new LsError('EUSAGE', {
    message:
      `the cluster name '${inNames.slice(0, 40)}…' is ${inNames.length} characters in backup names (lsbackup-<cluster>-<time>.tar.gz), ` +
      `more than the ${MAX_CLUSTER_NAME_LENGTH} that fit one file name with its sidecars' suffixes (255 bytes on local disks, NFS and Azure Files): ` +
      "give a shorter one with --cluster <name> or the config's cluster (without either, the cluster is the build directory's name)",
  });
}

/** One line per SSH key the inventory names where it is not, found in the build dir instead. */
export function keyRemapMessages(inventory: Inventory): string[] {
  const remapped = new Map(
    [...inventory.hosts.values()].flatMap(({ connection: c }) => (c.privateKeyFileAsWritten ? [[c.privateKeyFileAsWritten, c.privateKeyFile!]] : [])),
  );
  return [...remapped].map(
    ([written, used]) => `ssh key ${written} (as the inventory names it) is not on this machine; using the same file in the build dir: ${used}`,
  );
}
