/**
 * A target that fills up while the sidecars are written (issue 12 item 12): a real tmpfs, sized
 * so the archive fits but its metadata sidecar does not (2,000 empty files with long names: a
 * ~55 KiB archive, a ~830 KiB metadata.json). The run must say "not stored" AND leave nothing
 * under a final name: no archive that `list` shows and `verify` passes, no stray sidecar.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cliOutput, recipeYaml, runCli, workspace, jsonEvents } from '../helpers/cli.js';

let ws: Awaited<ReturnType<typeof workspace>>;
let mounted: string | undefined;
let env: Record<string, string>;

beforeAll(async () => {
  ws = await workspace('lsb-sidecar-enospc-');
  env = { XDG_CACHE_HOME: path.join(ws.dir, 'cache') };
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
  const data = path.join(ws.dir, 'data');
  await mkdir(data);
  for (let i = 0; i < 2000; i++) await writeFile(path.join(data, `${'n'.repeat(150)}-${String(i).padStart(5, '0')}`), '');
  await ws.write(
    'recipes/app.yaml',
    recipeYaml('app', `hosts: { group: app }\ndetect: "true"\nbackup:\n  collect:\n    - path: ${data}\n  post:\n    - run: touch ${ws.dir}/post-ran\n`),
  );
});
afterAll(async () => {
  if (mounted) await execa('umount', [mounted], { reject: false });
  await ws?.cleanup();
});

/** A real full filesystem needs a tmpfs mount (root / CAP_SYS_ADMIN): without it the test fails, it does not skip. */
async function mountTmpfs(dir: string, size: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const r = await execa('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'lsb-enospc', dir], { reject: false });
  if (r.exitCode !== 0) throw new Error(`this test needs to mount a tmpfs (root or CAP_SYS_ADMIN) and could not: ${r.stderr || r.exitCode}`);
  mounted = dir;
}

describe('ENOSPC while the sidecars are written', () => {
  it('stores nothing under a final name, says the copy was not stored, post-steps ran', { timeout: 180_000 }, async () => {
    const target = path.join(ws.dir, 'full');
    await mountTmpfs(target, '512k');
    const args = ['-b', path.join(ws.dir, 'build'), '-t', target];
    const r = await runCli(['apply', path.join(ws.dir, 'recipes'), ...args], { env });
    expect(r.exitCode, cliOutput(r)).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/not stored/);
    expect(r.stdout + r.stderr).toMatch(/ENOSPC|no space/i);
    expect((await readdir(ws.dir)).includes('post-ran')).toBe(true);

    // Nothing under a final name, no temp file: the archive is not published without its sidecars.
    expect(await readdir(target)).toEqual([]);
    const list = await runCli(['list', '-t', target, '--json'], { env });
    expect(jsonEvents(list.stdout, 'list.backup')).toEqual([]);
    const verify = await runCli(['verify', 'latest', '-t', target], { env });
    expect(verify.exitCode).not.toBe(0);

    // With room, the same backup is stored whole: archive and both sidecars.
    await execa('mount', ['-o', 'remount,size=4m', target]);
    const ok = await runCli(['apply', path.join(ws.dir, 'recipes'), ...args], { env });
    expect(ok.exitCode, cliOutput(ok)).toBe(0);
    const names = await readdir(target);
    expect(names).toHaveLength(3);
    expect((await runCli(['verify', 'latest', '-t', target], { env })).exitCode).toBe(0);
  });
});
