import type { BackupMetadata } from '../../engine/archive/metadata.js';

/** A valid metadata.json of a partial backup (one failed host), for tests of the schema and its readers. */
export const metadataSample: BackupMetadata = {
  lsbackupVersion: '0.1.0',
  format: 'lsbackup-metadata/v1',
  cluster: 'prod',
  backupId: '20260101T000000Z-ab12',
  startedAt: '2026-01-01T00:00:00.000Z',
  finishedAt: '2026-01-01T00:01:00.000Z',
  status: 'partial',
  inventory: { source: 'build/prod/inventory', digest: 'sha256:00' },
  archive: { format: 'tar.gz' },
  hosts: [{ name: 'db-1', address: '10.0.0.5', groups: ['postgresql'] }],
  components: [
    {
      name: 'postgresql',
      recipe: { name: 'postgresql', version: '1.0.0', digest: 'sha256:11', file: 'recipes/postgresql.yaml' },
      componentVersion: 'psql (PostgreSQL) 15.5',
      hosts: [
        {
          name: 'db-1',
          status: 'failed',
          durationMs: 12,
          bytes: 0,
          error: 'exit 1',
          transport: 'zstd',
          steps: [{ phase: 'snapshot', name: 'pg_dumpall', status: 'failed', exitCode: 1, durationMs: 10, error: 'exit 1' }],
        },
      ],
      status: 'failed',
      durationMs: 12,
    },
  ],
  entries: [{ path: 'postgresql/db-1/dumpall.sql', type: 'file', size: 3, sha256: 'a'.repeat(64), mode: 0o600, mtime: '2026-01-01T00:00:30.000Z' }],
};
