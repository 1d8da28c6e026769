/**
 * How big each multipart part is. S3 allows 10,000 parts per object, each 5 MiB to 5 GiB
 * (only the last may be smaller), and objects up to 5 TiB. A fixed part size caps an archive at
 * 10,000 x partSize (78 GiB at 8 MiB): it fails at part 10,001, hours into the run. So parts
 * start at the configured size and double every `every` parts, `every` chosen as large as
 * possible (parts, hence the memory they hold, stay small as long as they can) while 10,000
 * parts still reach the object limit.
 */
import { constants } from 'node:buffer';

export interface PartLimits {
  minPart: number;
  maxPart: number;
  maxParts: number;
  maxObject: number;
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export const S3_PART_LIMITS: PartLimits = {
  minPart: 5 * MiB,
  // S3 allows 5 GiB, but a part is one Buffer in memory, and Node 20's largest is 4 GiB.
  maxPart: Math.min(5 * GiB, constants.MAX_LENGTH),
  maxParts: 10_000,
  maxObject: 5 * 1024 * GiB,
};

/** Size of part `n` (1-based) for a given start size and doubling period. */
function doubling(first: number, every: number, limits: PartLimits): (n: number) => number {
  return (n) => Math.min(limits.maxPart, first * 2 ** Math.floor((n - 1) / every));
}

/** Bytes that `limits.maxParts` parts of this schedule hold together. */
export function scheduleCapacity(size: (n: number) => number, limits: PartLimits): number {
  let total = 0;
  for (let n = 1; n <= limits.maxParts; n++) total += size(n);
  return total;
}

/** The part-size schedule starting at `first` bytes (part n -> its size). */
export function partSchedule(first: number, limits: PartLimits = S3_PART_LIMITS): (n: number) => number {
  const start = Math.min(Math.max(first, limits.minPart), limits.maxPart);
  // Capacity shrinks as `every` grows: binary search the largest `every` still reaching maxObject.
  let low = 1;
  let high = limits.maxParts;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (scheduleCapacity(doubling(start, mid, limits), limits) >= limits.maxObject) low = mid;
    else high = mid - 1;
  }
  return doubling(start, low, limits);
}
