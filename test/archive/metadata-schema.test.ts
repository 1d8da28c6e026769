import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import type { BackupMetadata } from '../../engine/archive/metadata.js';
import { parseMetadata, parseMetadataHead } from '../../engine/archive/read-metadata.js';
import { LsError } from '../../engine/errors.js';
import { metadataSample as sample } from '../helpers/metadata-sample.js';

const schema = JSON.parse(await readFile(new URL('../../schemas/metadata.schema.json', import.meta.url), 'utf8'));
const NAME = 'lsbackup-prod-20260101T000000Z.tar.gz';

/** What parseMetadata, the one reader of every metadata.json, throws for `value`. */
function readError(value: unknown): LsError {
  try {
    parseMetadata(typeof value === 'string' ? value : JSON.stringify(value), NAME);
  } catch (e) {
    return e as LsError;
  }
  throw new Error('parseMetadata accepted it');
}

describe('metadata.schema.json', () => {
  it('accepts the BackupMetadata shape and describes every property', () => {
    expect(parseMetadata(JSON.stringify(sample), NAME)).toEqual(sample);
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

  it('rejects a wrong status and a bad entry checksum, naming the backup and the paths (EMETADATA, exit 1)', () => {
    const error = readError({ ...sample, status: 'ok', entries: [{ ...sample.entries[0], sha256: 'xyz' }] });
    expect(error).toBeInstanceOf(LsError);
    expect(error.code).toBe('EMETADATA');
    expect(error.exitCode).toBe(1);
    expect(error.message).toContain(`Backup ${NAME}: metadata.json is not lsbackup metadata this version can read`);
    expect(error.message).toContain("metadata.json: 'status' must be one of: success, partial, failed");
    expect(error.message).toContain("metadata.json: 'entries[0].sha256' 'xyz' does not match ^[0-9a-f]{64}$");
  });

  it('refuses a foreign JSON file and text that is not JSON, naming at most the first five problems', () => {
    const foreign = readError({ name: 'my-app', version: '1.0.0', dependencies: {} });
    expect(foreign.message).toContain("metadata.json: the document is missing the required key 'lsbackupVersion'");
    expect(foreign.message).toMatch(/\.\.\. and \d+ more/);
    expect(foreign.message.split('\n').filter((l) => l.startsWith('  metadata.json:'))).toHaveLength(5);
    expect(readError('{"lsbackupVersion": "0.1.0", ').message).toContain('metadata.json: is not JSON');
    expect(readError({ ...sample, startedAt: 'yesterday' }).message).toContain('\'startedAt\' must match format "date-time"');
  });

  it('reads metadata written by older lsbackup versions (without the fields added since) and by newer ones within format v1', () => {
    const older = structuredClone(sample) as Partial<BackupMetadata> & typeof sample;
    // Fields added after the first release: the job, a host's transport and note, changedDuringRead.
    delete older.job;
    for (const c of older.components) for (const h of c.hosts) delete h.transport;
    expect(parseMetadata(JSON.stringify({ ...older, lsbackupVersion: '0.0.1' }), NAME).lsbackupVersion).toBe('0.0.1');
    const newer = { ...sample, lsbackupVersion: '0.9.0', retainUntil: '2027-01-01T00:00:00Z', entries: [{ ...sample.entries[0], xattrs: {} }] };
    expect(parseMetadata(JSON.stringify(newer), NAME).lsbackupVersion).toBe('0.9.0');
  });

  it("lets a reference leave out the holder's mode and mtime, and no other entry", () => {
    const { mode: _mode, mtime: _mtime, ...bare } = sample.entries.find((e) => e.type === 'file')!;
    const reference = { ...bare, ref: 'b0d5a3e2-0000-4000-8000-000000000001' };
    expect(parseMetadata(JSON.stringify({ ...sample, entries: [reference] }), NAME).entries).toEqual([reference]);
    const error = readError({ ...sample, entries: [bare] });
    expect(error.message).toContain("metadata.json: 'entries[0]' is missing the required key 'mode'");
  });

  // list, prune and a job's retention read every backup's metadata and keep none of its entries
  // (bench/catalog.ts: 30 backups of 100,000 files took 1.6 GB and 13 s; BENCHMARKS.md Session 19).
  it('reads the head without the entries for a listing: the rest checked as parseMetadata does, the entries only as a list', () => {
    const { entries: _entries, ...head } = sample;
    expect(parseMetadataHead(JSON.stringify(sample), NAME)).toEqual(head);
    // An entry a listing does not use is not looked into (show, verify and restore read the whole).
    const damagedEntry = { ...sample, entries: [{ ...sample.entries[0], sha256: 'xyz' }] };
    expect(parseMetadataHead(JSON.stringify(damagedEntry), NAME)).toEqual(head);
    expect(() => parseMetadata(JSON.stringify(damagedEntry), NAME)).toThrow(LsError);
    // What a listing uses is refused as parseMetadata refuses it, and so is no entry list at all.
    for (const bad of [{ ...sample, status: 'ok' }, { ...sample, cluster: 7 }, { ...sample, entries: {} }, head]) {
      expect(() => parseMetadataHead(JSON.stringify(bad), NAME), JSON.stringify(bad).slice(0, 80)).toThrow(
        expect.objectContaining({ code: 'EMETADATA', details: expect.objectContaining({ backup: NAME }) }),
      );
    }
  });

  // Restore finds a component's data by the directory its name gives (docs/archive-format.md, Layout).
  it("refuses entries under no component it lists (a component renamed, the components emptied), the carried recipes being no component's", () => {
    const renamed = { ...sample, components: [{ ...sample.components[0]!, name: 'other' }] };
    expect(readError(renamed).message).toContain(
      "metadata.json: entry 'postgresql/db-1/dumpall.sql' is under 'postgresql/', which is no component of the backup (its components are 'other'): each component's entries lie under its name, and restore finds them by it",
    );
    expect(readError({ ...sample, components: [] }).message).toContain('which is no component of the backup (it lists no component)');
    const recipe = { ...sample.entries[0]!, path: 'lsbackup/recipes/postgresql-1.0.0.yaml' };
    expect(parseMetadata(JSON.stringify({ ...sample, entries: [...sample.entries, recipe] }), NAME).entries).toHaveLength(2);
  });

  it('says which lsbackup to use for a metadata format it does not read', () => {
    const error = readError({ ...sample, format: 'lsbackup-metadata/v2', lsbackupVersion: '2.0.0' });
    expect(error.message).toContain('metadata.json: is in format lsbackup-metadata/v2; this lsbackup');
    expect(error.message).toContain('Fix: read it with the lsbackup that wrote it (2.0.0) or a newer one.');
  });
});
