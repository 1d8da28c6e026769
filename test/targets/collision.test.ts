import { describe, expect, it } from 'vitest';
import { candidateNames, nameWithSuffix } from '../../targets/support/collision.js';

describe('collision names', () => {
  it('puts the suffix before the whole archive extension', () => {
    expect(nameWithSuffix('lsbackup-prod.eu-20260101T000000Z.tar.gz', 1)).toBe('lsbackup-prod.eu-20260101T000000Z_1.tar.gz');
    expect(nameWithSuffix('lsbackup-x-20260101T000000Z.tar.zst.age', 2)).toBe('lsbackup-x-20260101T000000Z_2.tar.zst.age');
    expect(nameWithSuffix('lsbackup-x.zip', 3)).toBe('lsbackup-x_3.zip');
    expect(nameWithSuffix('notes.txt', 1)).toBe('notes_1.txt');
    expect(nameWithSuffix('noext', 1)).toBe('noext_1');
    expect(nameWithSuffix('a.tar.gz', 0)).toBe('a.tar.gz');
  });

  it('lists the names to try: the name alone, or with _1, _2... when collisions are avoided', () => {
    expect([...candidateNames('b.zip', false, 5)]).toEqual(['b.zip']);
    expect([...candidateNames('b.zip', true, 2)]).toEqual(['b.zip', 'b_1.zip', 'b_2.zip']);
  });
});
