/**
 * The `local` group (issue 17 item 6): the controller's own cost per byte. One host with
 * `ansible_connection=local` (no SSH, whose cost hides the controller's over loopback), a
 * ~560 MiB mixed tree, lsbackup against `tar | zstd -3 -T0` and `tar | pigz -6` in the same run.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDataSet, mixedSpec, totalBytes, type DataSpec } from './data.js';
import { BULK_RECIPE } from './recipes.js';
import type { Contender } from './measure.js';

/** ~560 MiB: the mixed data set at 0.6 scale (10,000 configs, logs, a dump, random files). */
export const LOCAL_SPEC: DataSpec = mixedSpec(0.6);

/** What the group needs from the suite (bench/main.ts). */
export interface LocalBench {
  work: string;
  dataDir: string;
  spec: DataSpec;
  /** The suite's measured comparison: the contenders' runs in turns, `bytes` of input (bench/main.ts). */
  compare(group: string, bytes: number, contenders: Contender[]): Promise<unknown>;
  /** `lsbackup apply` of `recipe` on `inv` into `out` as `format`, with --json; `rest` adds options (bench/main.ts). */
  applyInto(recipe: string, inv: string, out: string, format: string, ...rest: string[]): string[];
  emptyDir(dir: string): () => void;
}

/** Benchmark names, for the ratios in the report. */
export const LOCAL_NAMES = {
  zstd: 'local: tar | zstd -3 -T0',
  lsbZstd: 'local: lsbackup tar.zst',
  pigz: 'local: tar | pigz -6',
  lsbGz: 'local: lsbackup tar.gz',
} as const;

export async function localHost(b: LocalBench): Promise<void> {
  await ensureDataSet(b.dataDir, b.spec);
  const bytes = totalBytes(b.spec);
  const inv = join(b.work, 'inv-local');
  writeFileSync(inv, '[bulk]\nlocalhost ansible_connection=local\n');
  const recipe = join(b.work, 'bulk.yaml');
  writeFileSync(recipe, BULK_RECIPE);
  const out = join(b.work, 'local-out');
  const clean = b.emptyDir(out);
  clean();
  const tar = `tar -cf - -C / ${b.dataDir.slice(1)}`;
  const apply = (format: string) => b.applyInto(recipe, inv, out, format, '--var', `bulk.data_dir=${b.dataDir}`);
  await b.compare('local', bytes, [
    { name: LOCAL_NAMES.zstd, argv: ['sh', '-c', `${tar} | zstd -3 -T0 -q > ${out}/b.tar.zst`], after: clean },
    { name: LOCAL_NAMES.lsbZstd, argv: apply('tar.zst'), after: clean },
  ]);
  await b.compare('local', bytes, [
    { name: LOCAL_NAMES.pigz, argv: ['sh', '-c', `${tar} | pigz -6 > ${out}/b.tar.gz`], after: clean },
    { name: LOCAL_NAMES.lsbGz, argv: apply('tar.gz'), after: clean },
  ]);
}
