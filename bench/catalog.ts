/**
 * The `catalog` group: what `list` and `prune` cost on a target holding many backups of a cluster
 * with many files. A backup's metadata names every file with its digest (the `.metadata.json`
 * sidecar of a 100,000-file backup is ~20 MB), and `list`, `prune` and a job's retention read the
 * sidecar of every backup in the target. One real backup (local host, no SSH) of a tree of small
 * files is stored again under `copies` more names; `show` of one backup, which reads that one
 * sidecar whole, is the baseline.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BULK_RECIPE } from './recipes.js';
import type { Contender } from './measure.js';

/** What the group needs from the suite (bench/main.ts). */
export interface CatalogBench {
  work: string;
  /** Where the tree of small files is made (reused when complete). */
  dataDir: string;
  files: number;
  /** How many more names the backup is stored under. */
  copies: number;
  compare(group: string, bytes: number, contenders: Contender[]): Promise<unknown>;
  applyInto(recipe: string, inv: string, out: string, format: string, ...rest: string[]): string[];
  lsbackup(...rest: string[]): string[];
}

export async function catalog(b: CatalogBench): Promise<void> {
  makeTree(b.dataDir, b.files);
  const inv = join(b.work, 'inv-catalog');
  writeFileSync(inv, '[bulk]\nlocalhost ansible_connection=local\n');
  const recipe = join(b.work, 'catalog.yaml');
  writeFileSync(recipe, BULK_RECIPE);
  const target = join(b.work, 'catalog-target');
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true });
  const [node, ...args] = b.applyInto(recipe, inv, target, 'tar.zst', '--var', `bulk.data_dir=${b.dataDir}`);
  execFileSync(node!, args, { stdio: 'ignore' });
  const archive = readdirSync(target).find((n) => n.endsWith('.tar.zst'))!;
  // The same backup under other names, a day apart (list marks them as copies; prune weighs them alike).
  for (let i = 1; i <= b.copies; i++) {
    const day = new Date(Date.UTC(2020, 0, i)).toISOString().slice(0, 10).replaceAll('-', '');
    const name = archive.replace(/-\d{8}T/, `-${day}T`);
    for (const suffix of ['', '.sha256', '.metadata.json']) copyFileSync(join(target, archive + suffix), join(target, name + suffix));
  }
  const sidecarBytes = readdirSync(target)
    .filter((n) => n.endsWith('.metadata.json'))
    .reduce((sum, n) => sum + statSync(join(target, n)).size, 0);
  const none = () => {};
  await b.compare('catalog', sidecarBytes, [
    { name: `catalog: lsbackup show (1 sidecar of ${b.files} files)`, argv: b.lsbackup('show', archive, '-t', target), after: none },
    { name: `catalog: lsbackup list (${b.copies + 1} backups)`, argv: b.lsbackup('list', '-t', target), after: none },
    {
      name: `catalog: lsbackup prune --dry-run (${b.copies + 1} backups)`,
      argv: b.lsbackup('prune', '-t', target, '--keep-last', '1', '--dry-run'),
      after: none,
    },
  ]);
}

/** `files` one-line files in directories of 1,000; a marker says the tree is complete. */
function makeTree(dir: string, files: number): void {
  const done = join(dir, `.complete-${files}`);
  if (existsSync(done)) return;
  rmSync(dir, { recursive: true, force: true });
  for (let i = 0; i < files; i++) {
    const sub = join(dir, `d${Math.floor(i / 1000)}`);
    if (i % 1000 === 0) mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, `f${i}.conf`), `setting-${i} = ${i * 7}\n`);
  }
  writeFileSync(done, '');
}
