/**
 * Retention keeps chains whole (engine/catalog/chains.ts). A backup whose metadata cannot be read
 * is dated by its name, in whole seconds, while every other backup is dated by its metadata, with
 * milliseconds: its base, started earlier in the same second, must still count as older.
 */
import { describe, expect, it } from 'vitest';
import { keepChainsWhole } from '../../engine/catalog/chains.js';
import type { BackupSummary } from '../../engine/catalog/listing.js';
import type { BackupMetadata } from '../../engine/archive/index.js';

const summary = (name: string, time: string, metadata: boolean): BackupSummary => ({
  name,
  cluster: 'prod',
  time: new Date(time),
  sequence: 0,
  format: 'tar.gz',
  encrypted: false,
  renamed: false,
  size: 1,
  status: metadata ? 'success' : 'unknown',
  components: [],
  ...(metadata ? { metadata: { kind: 'full' } as unknown as BackupMetadata } : { metadataNote: 'not JSON' }),
  sidecars: [],
});

describe('keepChainsWhole with an unreadable incremental', () => {
  it('keeps a base started in the same second as the unreadable backup, and keeps none started after it', () => {
    // The full started at .600 s; the incremental's name says 12:00:00 (its metadata is damaged).
    const full = summary('lsbackup-prod-20261206T120000Z.tar.gz', '2026-12-06T12:00:00.600Z', true);
    const incremental = summary('lsbackup-prod-20261206T120000Z_1.tar.gz', '2026-12-06T12:00:00.000Z', false);
    const after = summary('lsbackup-prod-20261206T120001Z.tar.gz', '2026-12-06T12:00:01.200Z', true);
    const { kept, remove } = keepChainsWhole([after, incremental, full], [full, after]);
    expect(kept.map((k) => k.backup.name)).toEqual([full.name]);
    expect(kept[0]!.reasons[0]).toContain(`kept: ${incremental.name} may be an incremental on it`);
    expect(remove.map((b) => b.name)).toEqual([after.name]);
  });
});
