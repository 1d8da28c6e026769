/**
 * metadata.json, the last entry of every archive. schemas/metadata.schema.json describes the
 * same shape for editors and other tools; keep the two in step.
 */
import type { ArchiveFormat, EntryRecord } from './types.js';
export { backupName } from './names.js';

export const METADATA_FORMAT = 'lsbackup-metadata/v1';

export type RunStatus = 'success' | 'partial' | 'failed';
export type HostRunStatus = 'success' | 'failed' | 'skipped';

export interface StepRecord {
  /** pre | snapshot | collect | post (restore: pre | apply | post). */
  phase: string;
  name: string;
  status: HostRunStatus;
  exitCode?: number;
  durationMs: number;
  error?: string;
}

export interface ComponentHostRecord {
  name: string;
  status: HostRunStatus;
  durationMs: number;
  /** Body bytes this host contributed to the archive. */
  bytes: number;
  error?: string;
  /** Why the host did no work although nothing failed (not detected, another host chosen). */
  note?: string;
  steps: StepRecord[];
  /** 'zstd' when the host compressed what it streamed (compress: remote); absent when it came as is. */
  transport?: 'zstd';
}

export interface ComponentRecord {
  name: string;
  recipe: { name: string; version: string; digest: string; file: string };
  /** What the recipe's `version` command printed; null when not detected. */
  componentVersion: string | null;
  hosts: ComponentHostRecord[];
  status: RunStatus | 'skipped';
  durationMs: number;
  error?: string;
}

export interface BackupMetadata {
  lsbackupVersion: string;
  format: typeof METADATA_FORMAT;
  cluster: string;
  /** The config job that made it (`lsbackup run`/`schedule`); absent for `apply` and for backups older than this field. Retention is per cluster and job. */
  job?: string;
  backupId: string;
  /** UTC ISO 8601. */
  startedAt: string;
  finishedAt: string;
  status: RunStatus;
  inventory: { source: string; digest: string };
  archive: { format: ArchiveFormat };
  hosts: { name: string; address: string; groups: string[] }[];
  components: ComponentRecord[];
  entries: EntryRecord[];
}
