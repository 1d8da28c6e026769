/**
 * Several hosts collecting at once through the built CLI (local connection, real tar): each
 * host's tar stream must reach the archive whole even while the archive is busy with another
 * host. Regression: the collector ended its tar parser while the last chunks still waited in
 * its input, and 3-4 of 8 hosts failed with "TAR_BAD_ARCHIVE: Truncated input" (bench cluster).
 */
import { execa } from 'execa';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { recipeYaml, runCli, workspace } from '../helpers/cli.js';

const HOSTS = 8;
const FILES = 300;

let ws: Awaited<ReturnType<typeof workspace>>;
beforeEach(async () => {
  ws = await workspace('lsb-many-collect-');
});
afterEach(async () => ws.cleanup());

it('8 hosts each streaming a dump and 300 files: every host succeeds and every file is in the archive', async () => {
  for (let i = 0; i < FILES; i++) await ws.write(`data/conf/f${i}.conf`, `${'x'.repeat(2000)} ${i}\n`);
  await execa('head', ['-c', String(8 * 1024 * 1024), '/dev/urandom'], { stdout: { file: path.join(ws.dir, 'data/dump.bin') } });
  const hosts = Array.from({ length: HOSTS }, (_, i) => `h${i} ansible_connection=local`).join('\n');
  await ws.write('build/inventory', `[app]\n${hosts}\n`);
  await ws.write(
    'recipes/app.yaml',
    recipeYaml(
      'app',
      `hosts: { group: app, run: all }
backup:
  snapshot:
    - run: cat ${ws.dir}/data/dump.bin
      output: dump.bin
  collect:
    - path: ${ws.dir}/data/conf
`,
    ),
  );
  const target = path.join(ws.dir, 'backups');
  for (let round = 0; round < 3; round++) {
    const r = await runCli(['apply', path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'build'), '-t', target, '-f', 'tar.zst', '--concurrency', String(HOSTS)], {
      timeoutMs: 240_000,
    });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
  }
  for (const name of (await readdir(target)).filter((n) => n.endsWith('.tar.zst'))) {
    const listing = (await execa('tar', ['--zstd', '-tf', path.join(target, name)])).stdout.split('\n');
    for (let i = 0; i < HOSTS; i++) {
      expect(listing.filter((l) => l.startsWith(`app/h${i}/files/`) && l.endsWith('.conf'))).toHaveLength(FILES);
    }
  }
}, 300_000);
