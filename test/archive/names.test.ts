import { describe, expect, it } from 'vitest';
import { backupName } from '../../engine/archive/names.js';
import { nameWithSuffix as withCollisionSuffix } from '../../targets/support/collision.js';

describe('backup names', () => {
  it('are lsbackup-<cluster>-<UTC compact time>.<ext> with a sanitised cluster', () => {
    expect(backupName('Prod_EU 1', new Date('2026-01-02T03:04:05.678Z'), 'tar.gz')).toBe('lsbackup-prod-eu-1-20260102T030405Z.tar.gz');
    expect(backupName('--', new Date(0), '.zip')).toBe('lsbackup-cluster-19700101T000000Z.zip');
  });

  it('put the collision suffix before the whole extension', () => {
    expect(withCollisionSuffix('lsbackup-x-20260101T000000Z.tar.gz', 1)).toBe('lsbackup-x-20260101T000000Z_1.tar.gz');
    expect(withCollisionSuffix('a.tar.zst', 2)).toBe('a_2.tar.zst');
    expect(withCollisionSuffix('a.zip', 0)).toBe('a.zip');
    expect(withCollisionSuffix('noext', 3)).toBe('noext_3');
  });
});
