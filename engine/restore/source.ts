import type { Readable } from 'node:stream';
import type { Target } from '../../targets/types.js';
import { formatFromName, sidecarNames, type ArchiveFormat } from '../archive/index.js';
import { isEncrypted, openObject, readText } from '../catalog/objects.js';

/** A stored backup, opened for reading (decrypted when it is an age file). */
export interface BackupSource {
  name: string;
  format: ArchiveFormat;
  /** A fresh stream of the archive's (decrypted) bytes each call; `count` is told the stored bytes as they are read. */
  open(count?: (bytes: number) => void): Promise<Readable>;
  /** The stored size (what `count` adds up to), when the target knows it. */
  storedSize(): Promise<number | undefined>;
  /**
   * The digest the `.sha256` sidecar records for the stream `open()` gives, when there is one to
   * compare. Encrypted backups have none here: the sidecar covers the ciphertext, and age's own
   * authentication already refuses a changed byte.
   */
  sidecarSha256(): Promise<string | undefined>;
}

export function backupSource(target: Target, name: string, identities: string[] | undefined): BackupSource {
  return {
    name,
    format: formatFromName(name),
    open: (count) => openObject(target, name, { identities }, count),
    storedSize: async () => (await target.stat(name))?.size,
    sidecarSha256: async () => {
      if (isEncrypted(name)) return undefined;
      const sidecar = sidecarNames(name, false).sha256;
      if (!(await target.stat(sidecar))) return undefined;
      return /^([0-9a-f]{64})\b/.exec((await readText(target, sidecar, {})).trim())?.[1];
    },
  };
}
