/**
 * Staged or streamed (docs/restore.md). Staging writes every body the restore needs to local
 * disk after one verify pass; stream mode verifies in one pass and stages nothing, then the
 * restore steps read the archive again from its target. Stream mode is chosen on request
 * (--stream) or when the staging dir has less room than the data plus a margin.
 */
import { statfs } from 'node:fs/promises';
import type { BackupMetadata } from '../archive/index.js';
import { formatBytes } from '../report/format.js';
import { RECIPES_PREFIX } from '../runner/entry-paths.js';

/** Room left free on the staging disk: a restore must not fill it to the last byte. */
export const STAGING_MARGIN_BYTES = 64 * 1024 * 1024;

export interface StagingMode {
  stream: boolean;
  /** Why stream mode was chosen without being asked for (said in the output). */
  why?: string;
}

/** Bytes staging would write: every regular file of the selected components (references included). */
export function bytesToStage(metadata: BackupMetadata, selected: (component: string) => boolean): number {
  return metadata.entries
    .filter((e) => e.type === 'file' && !e.error && !e.path.startsWith(RECIPES_PREFIX + '/') && selected(e.path.split('/')[0]!))
    .reduce((n, e) => n + e.size, 0);
}

export async function chooseStagingMode(options: { requested: boolean; stagingDir: string; needed: number | undefined }): Promise<StagingMode> {
  if (options.requested) return { stream: true };
  if (options.needed === undefined) return { stream: false };
  const s = await statfs(options.stagingDir);
  const free = s.bavail * s.bsize;
  if (free >= options.needed + STAGING_MARGIN_BYTES) return { stream: false };
  return {
    stream: true,
    why: `${options.stagingDir} has ${formatBytes(free)} free, staging needs ${formatBytes(options.needed)} (+ ${formatBytes(STAGING_MARGIN_BYTES)} to spare): restoring in stream mode (nothing staged; the archive is read again from its target)`,
  };
}
