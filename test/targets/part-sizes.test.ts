// The multipart part-size schedule (targets/support/part-sizes.ts): pure arithmetic, S3's limits.
import { describe, expect, it } from 'vitest';
import { partSchedule, scheduleCapacity, S3_PART_LIMITS } from '../../targets/support/part-sizes.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

describe('part-size schedule', () => {
  for (const first of [5 * MiB, 8 * MiB, 64 * MiB, 1 * GiB, 4 * GiB]) {
    it(`from ${first / MiB} MiB: 10,000 parts reach 5 TiB, every part 5 MiB..5 GiB, never shrinking`, () => {
      const size = partSchedule(first);
      expect(size(1)).toBe(first);
      expect(scheduleCapacity(size, S3_PART_LIMITS)).toBeGreaterThanOrEqual(5 * TiB);
      // One assertion over all 10,000 parts (40,000 expect() calls took seconds): the parts that break a rule.
      const sizes = Array.from({ length: 10_000 }, (_, i) => size(i + 1));
      const wrong = sizes.flatMap((s, i) =>
        s < 5 * MiB || s > 5 * GiB || s > S3_PART_LIMITS.maxPart || (i > 0 && s < sizes[i - 1]!) ? [{ part: i + 1, size: s }] : [],
      );
      expect(wrong).toEqual([]);
    });
  }

  it('keeps parts small while the archive is small (the memory held is parts x queue)', () => {
    const size = partSchedule(8 * MiB);
    // The old fixed 8 MiB parts failed at 78 GiB; the part that carries byte 100 GiB is still modest.
    let total = 0;
    let n = 1;
    while (total < 100 * GiB) total += size(n++);
    expect(size(n - 1)).toBeLessThanOrEqual(128 * MiB);
    expect(size(1000)).toBe(8 * MiB);
  });

  it('a fixed part size would not have reached 5 TiB', () => {
    expect(scheduleCapacity(() => 8 * MiB, S3_PART_LIMITS)).toBeLessThan(80 * GiB);
  });

  it('lowered limits (as the real-server test uses) grow faster', () => {
    const limits = { ...S3_PART_LIMITS, maxParts: 4, maxObject: 60 * MiB };
    const size = partSchedule(5 * MiB, limits);
    expect([1, 2, 3, 4].map(size)).toEqual([5 * MiB, 10 * MiB, 20 * MiB, 40 * MiB]);
    expect(scheduleCapacity(size, limits)).toBeGreaterThanOrEqual(60 * MiB);
  });
});
