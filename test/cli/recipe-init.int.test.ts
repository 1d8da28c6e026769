/**
 * `lsbackup recipe init` through the built CLI: the skeleton it writes validates as written and
 * round-trips a trivial local component (a data directory on this host): apply, lose the data,
 * restore, same bytes; and its tests section passes `recipe test` as written.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cliOutput, runCli, workspace } from '../helpers/cli.js';
import { expectRoundTrip } from '../helpers/recipe-test.js';

let ws: Awaited<ReturnType<typeof workspace>>;
beforeEach(async () => {
  ws = await workspace();
});
afterEach(async () => ws.cleanup());

describe('lsbackup recipe init', () => {
  it('writes a skeleton that validates and backs up and restores a local component as written', async () => {
    const recipes = path.join(ws.dir, 'recipes');
    const data = path.join(ws.dir, 'data');
    await ws.write('data/state.db', 'precious state\n');
    await ws.write('build/inventory', '[cache]\nlocalhost ansible_connection=local\n');
    // -o names a folder that does not exist yet, as the help's example does: init creates it.
    const init = await runCli(['recipe', 'init', 'my-cache', '--group', 'cache', '-o', recipes]);
    expect(init.exitCode, cliOutput(init)).toBe(0);
    const text = await readFile(path.join(recipes, 'my-cache.yaml'), 'utf8');
    expect(text.split('\n')[0]).toMatch(/^# yaml-language-server: \$schema=\S*schemas\/recipe\.schema\.json$/);
    for (const phase of ['pre', 'snapshot', 'collect', 'post', 'apply']) expect(text).toMatch(new RegExp(`^ {4}${phase}: # \\S`, 'm'));

    const valid = await runCli(['validate', recipes]);
    expect(valid.exitCode, cliOutput(valid)).toBe(0);

    const target = path.join(ws.dir, 'backups');
    const varFlag = ['--var', `my-cache.my_cache_data_dir=${data}`];
    const apply = await runCli(['apply', recipes, '-b', path.join(ws.dir, 'build'), '-t', target, ...varFlag]);
    expect(apply.exitCode, cliOutput(apply)).toBe(0);
    const archive = (await readdir(target)).find((n) => n.endsWith('.tar.gz'))!;

    await rm(path.join(data, 'state.db'));
    const restore = await runCli(['restore', path.join(target, archive), '-b', path.join(ws.dir, 'build'), '--yes', '--recipes', recipes, ...varFlag]);
    expect(restore.exitCode, cliOutput(restore)).toBe(0);
    expect(await readFile(path.join(data, 'state.db'), 'utf8')).toBe('precious state\n');
  });

  it('writes a tests section with which `recipe test` round-trips the skeleton against a local component', async () => {
    await ws.write('build/inventory', '[cache]\nlocalhost ansible_connection=local\n');
    const init = await runCli(['recipe', 'init', 'my-cache', '--group', 'cache', '-o', ws.dir]);
    expect(init.exitCode, cliOutput(init)).toBe(0);
    const data = path.join(ws.dir, 'data');
    await expectRoundTrip(path.join(ws.dir, 'my-cache.yaml'), ['-b', path.join(ws.dir, 'build'), '--var', `my-cache.my_cache_data_dir=${data}`]);
    expect(await readFile(path.join(data, 'lsbackup-recipe-test.txt'), 'utf8')).toBe('lsbackup-recipe-test\n');
  });

  it('refuses a name that is no recipe name, and never overwrites an existing recipe', async () => {
    const bad = await runCli(['recipe', 'init', 'My_Cache', '-o', ws.dir]);
    expect(bad.exitCode).toBe(64);
    expect(bad.stderr).toContain("recipe name 'My_Cache' is not a lowercase slug");
    await ws.write('mine.yaml', 'my own work\n');
    const again = await runCli(['recipe', 'init', 'mine', '-o', ws.dir]);
    expect(again.exitCode).toBe(64);
    expect(again.stderr).toContain('mine.yaml already exists');
    expect(await readFile(path.join(ws.dir, 'mine.yaml'), 'utf8')).toBe('my own work\n');
    expect((await readdir(ws.dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    const intoFile = await runCli(['recipe', 'init', 'other', '-o', path.join(ws.dir, 'mine.yaml')]);
    expect(intoFile.exitCode).toBe(64);
    expect(intoFile.stderr).toContain('mine.yaml is not a directory: choose another -o directory');
  });
});
