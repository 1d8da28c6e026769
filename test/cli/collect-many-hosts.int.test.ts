/**
 * Several hosts collecting at once through the built CLI (local connection, real tar): each
 * host's tar stream must reach the archive whole even while the archive is busy with another
 * host. Regression: the collector ended its tar parser while the last chunks still waited in
 * its input, and 3-4 of 8 hosts failed with "TAR_BAD_ARCHIVE: Truncated input" (bench cluster).
 * And a host does not wait for its spooled output to be appended before its next step.
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

/** `hosts` local hosts in group app, each streaming the same random dump and `files` config files. */
async function prepareHosts(hosts: number, files: number, content: (i: number) => string): Promise<{ recipes: string; build: string; target: string }> {
  for (let i = 0; i < files; i++) await ws.write(`data/conf/f${i}.conf`, content(i));
  await execa('head', ['-c', String(8 * 1024 * 1024), '/dev/urandom'], { stdout: { file: path.join(ws.dir, 'data/dump.bin') } });
  await ws.write('build/inventory', `[app]\n${Array.from({ length: hosts }, (_, i) => `h${i} ansible_connection=local`).join('\n')}\n`);
  await ws.write(
    'recipes/app.yaml',
    recipeYaml(
      'app',
      `hosts: { group: app, run: all }
backup:
  snapshot:
    - name: dump
      run: cat ${ws.dir}/data/dump.bin
      output: dump.bin
  collect:
    - name: configs
      path: ${ws.dir}/data/conf
`,
    ),
  );
  return { recipes: path.join(ws.dir, 'recipes'), build: path.join(ws.dir, 'build'), target: path.join(ws.dir, 'backups') };
}

/** Every host's dump and `files` config files are in the archive. */
async function expectEveryHostWhole(archive: string, hosts: number, files: number): Promise<void> {
  const listing = (await execa('tar', ['--zstd', '-tf', archive])).stdout.split('\n');
  for (let i = 0; i < hosts; i++) {
    expect(listing).toContain(`app/h${i}/dump.bin`);
    expect(listing.filter((l) => l.startsWith(`app/h${i}/files/`) && l.endsWith('.conf'))).toHaveLength(files);
  }
}

it('8 hosts each streaming a dump and 300 files: every host succeeds and every file is in the archive', async () => {
  const { recipes, build, target } = await prepareHosts(HOSTS, FILES, (i) => `${'x'.repeat(2000)} ${i}\n`);
  for (let round = 0; round < 3; round++) {
    const r = await runCli(['apply', recipes, '-b', build, '-t', target, '-f', 'tar.zst', '--concurrency', String(HOSTS)], { timeoutMs: 240_000 });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
  }
  // One archive per round (a run in the same second as the previous gets `_1`): none missing.
  const archives = (await readdir(target)).filter((n) => n.endsWith('.tar.zst'));
  expect(archives).toHaveLength(3);
  for (const name of archives) await expectEveryHostWhole(path.join(target, name), HOSTS, FILES);
}, 300_000);

it('a host goes on collecting while its spooled dump waits for its turn in the archive; both arrive', async () => {
  const hosts = 4;
  const { recipes, build, target } = await prepareHosts(hosts, 50, (i) => `config ${i}\n`);
  const r = await runCli(['apply', recipes, '-b', build, '-t', target, '-f', 'tar.zst', '--json'], { timeoutMs: 240_000 });
  expect(r.exitCode, r.stdout + r.stderr).toBe(0);
  const events = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string; host?: string; step?: string; path?: string });
  const at = (host: string, match: (e: (typeof events)[number]) => boolean) => events.findIndex((e) => e.host === host && match(e));
  const early = Array.from({ length: hosts }, (_, i) => `h${i}`).filter(
    (h) => at(h, (e) => e.type === 'step.start' && e.step === 'configs') < at(h, (e) => e.type === 'entry' && e.path === `app/${h}/dump.bin`),
  );
  // The dumps are appended one after another; the hosts behind the first did not wait for it.
  expect(early.length).toBeGreaterThan(0);
  const archives = (await readdir(target)).filter((n) => n.endsWith('.tar.zst'));
  expect(archives).toHaveLength(1);
  await expectEveryHostWhole(path.join(target, archives[0]!), hosts, 50);
}, 300_000);
