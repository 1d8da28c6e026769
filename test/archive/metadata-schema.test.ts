import { readFile } from 'node:fs/promises';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import type { BackupMetadata } from '../../engine/archive/metadata.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const schema = JSON.parse(await readFile(new URL('../../schemas/metadata.schema.json', import.meta.url), 'utf8'));
const validate = addFormats(new Ajv({ allErrors: true })).compile(schema);

const sample: BackupMetadata = {
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
      hosts: [{ name: 'db-1', status: 'failed', durationMs: 12, bytes: 0, error: 'exit 1', transport: 'zstd', steps: [{ phase: 'snapshot', name: 'pg_dumpall', status: 'failed', exitCode: 1, durationMs: 10, error: 'exit 1' }] }],
      status: 'failed',
      durationMs: 12,
    },
  ],
  entries: [{ path: 'postgresql/db-1/dumpall.sql', type: 'file', size: 3, sha256: 'a'.repeat(64), mode: 0o600, mtime: '2026-01-01T00:00:30.000Z' }],
};

describe('metadata.schema.json', () => {
  it('accepts the BackupMetadata shape and describes every property', () => {
    expect(validate(sample), JSON.stringify(validate.errors)).toBe(true);
    const undescribed: string[] = [];
    const walk = (node: Record<string, unknown>, at: string) => {
      for (const [key, child] of Object.entries((node.properties ?? {}) as Record<string, Record<string, unknown>>)) {
        if (!child.description) undescribed.push(`${at}.${key}`);
        walk(child, `${at}.${key}`);
      }
      if (node.items) walk(node.items as Record<string, unknown>, `${at}[]`);
    };
    walk(schema, '$');
    expect(undescribed).toEqual([]);
  });

  it('rejects a wrong status and a bad entry checksum, naming the path', () => {
    const bad = { ...sample, status: 'ok', entries: [{ ...sample.entries[0], sha256: 'xyz' }] };
    expect(validate(bad)).toBe(false);
    expect(validate.errors!.map((e) => e.instancePath).sort()).toEqual(['/entries/0/sha256', '/status']);
  });
});
