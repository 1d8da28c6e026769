import { createReadStream, existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Target } from '../../targets/types.js';
import { formatFromName, type ArchiveFormat } from '../archive/index.js';
import { LsError } from '../errors.js';

/** A stored backup, opened for reading: from a file path, or by name from a target. */
export interface BackupSource {
  name: string;
  format: ArchiveFormat;
  /** A fresh stream of the stored bytes each call. */
  open(): Promise<Readable>;
  /** The digest recorded in the `.sha256` sidecar, when there is one. */
  sidecarSha256(): Promise<string | undefined>;
}

/** `<backup>` is a path to an archive file, or the name of a backup in `target`. */
export async function openBackupSource(backup: string, target: Target | undefined): Promise<BackupSource> {
  if (existsSync(backup) && (await stat(backup)).isFile()) {
    const file = path.resolve(backup);
    return {
      name: path.basename(file),
      format: formatFromName(file),
      open: async () => createReadStream(file),
      sidecarSha256: async () => (existsSync(`${file}.sha256`) ? firstWord(await readFile(`${file}.sha256`, 'utf8')) : undefined),
    };
  }
  if (!target) {
    throw new LsError('EUSAGE', { message: `'${backup}' is not an archive file; to name a backup in a target pass -t <target>` });
  }
  const name = path.basename(backup);
  if (!(await target.stat(name))) {
    throw new LsError('ETARGET', { target: target.uri, message: `no backup named '${name}' (see 'lsbackup list -t ${target.uri}')` });
  }
  return {
    name,
    format: formatFromName(name),
    open: () => target.get(name),
    sidecarSha256: async () => {
      if (!(await target.stat(`${name}.sha256`))) return undefined;
      const chunks: Buffer[] = [];
      for await (const c of await target.get(`${name}.sha256`)) chunks.push(c as Buffer);
      return firstWord(Buffer.concat(chunks).toString('utf8'));
    },
  };
}

function firstWord(text: string): string | undefined {
  return /^([0-9a-f]{64})\b/.exec(text.trim())?.[1];
}
