/**
 * Peak disk use of a restore's staging directory (issue 17.7: staged vs stream mode): the
 * allocated blocks of every file under it, summed, sampled while the restore runs. A sampler
 * can miss a short peak, never invent one; the staged mode's peak is the data it needs, which
 * lives until the restore ends, so sampling sees it.
 */
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Allocated bytes under `dir` (0 when it vanished while being read). */
function allocatedUnder(dir: string): number {
  let total = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const full = join(dir, name);
    try {
      const st = lstatSync(full);
      total += st.blocks * 512;
      if (st.isDirectory()) total += allocatedUnder(full);
    } catch {
      // Removed between readdir and lstat: the restore cleaned up.
    }
  }
  return total;
}

/** Starts sampling `dir` every `everyMs`; stop() returns the largest use seen. */
export function sampleStagingUse(dir: string, everyMs = 50): { stop: () => number } {
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, allocatedUnder(dir))), everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, allocatedUnder(dir));
    },
  };
}
