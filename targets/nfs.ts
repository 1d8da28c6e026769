import { readFile, realpath } from 'node:fs/promises';
import { LsError } from '../engine/errors.js';
import { createLocalTarget } from './local.js';
import type { Target } from './types.js';

export const scheme = 'nfs';

export const nfsTargetOptionsSchema = {
  $id: 'https://lsbackup.dev/schemas/targets/nfs-options.json',
  title: 'Options of an nfs:// target',
  description: 'An NFS target is a directory where the share is already mounted; it takes no options.',
  type: 'object',
  additionalProperties: false,
  properties: {},
};

/** Mount points from /proc/self/mountinfo (field 5), with the kernel's octal escapes decoded. */
async function mountPoints(): Promise<Set<string>> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return new Set(
    text
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(' ')[4]!.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)))),
  );
}

/** `nfs://<mounted path>` -> that path. */
export function nfsMountPath(uri: string): string {
  return uri.replace(/^nfs:\/\//, '') || '/';
}

/**
 * `nfs://<mounted path>`: the share must already be mounted (by the OS, not by us). The
 * check refuses a path that is not itself a mount point, so a missing mount never silently
 * fills the local disk underneath it. Writing is exactly the local target (fsync included).
 */
export function createNfsTarget(uri: string): Target {
  const path = nfsMountPath(uri);
  const target = createLocalTarget(path, {
    async precheck(dir) {
      const real = await realpath(dir).catch(() => undefined);
      if (!real || !(await mountPoints()).has(real)) {
        throw new LsError('ETARGET', {
          target: uri,
          message: `${dir} is not a mount point; mount the NFS share there first (nfs:// takes the local path where it is mounted)`,
        });
      }
    },
  });
  return { ...target, uri };
}
