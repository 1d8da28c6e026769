/** Authoring watch mode through the built CLI: every save re-validates, a broken file never ends it. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recipeYaml, spawnCli, workspace } from '../helpers/cli.js';
import { jsonLines } from '../helpers/lines.js';

let ws: Awaited<ReturnType<typeof workspace>>;
let child: ReturnType<typeof spawnCli> | undefined;
beforeEach(async () => {
  ws = await workspace();
});
afterEach(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await child?.catch(() => undefined);
  await ws.cleanup();
});

const good = recipeYaml('app', `hosts: { group: app }\nbackup:\n  snapshot:\n    - run: echo hi\n      output: hi.txt\n`);

describe('validate --watch', () => {
  it('re-validates on every save and keeps running through an invalid file', async () => {
    const file = await ws.write('recipes/app.yaml', good);
    child = spawnCli(['validate', '--watch', '--json', `${ws.dir}/recipes`]);
    const log = jsonLines(child.stdout!);
    const first = await log.waitFor((l) => l.valid === true);
    expect(first.line.recipes).toEqual(['app@1.0.0']);

    await ws.write('recipes/app.yaml', good.replace('snapshot:', 'snapshto:'));
    const broken = await log.waitFor((l) => l.valid === false, { from: first.index + 1 });
    expect(broken.line.problems).toEqual([expect.objectContaining({ file, line: 10, column: 5, message: "unknown key 'snapshto' in 'spec.backup'" })]);

    await ws.write('recipes/app.yaml', good);
    await log.waitFor((l) => l.valid === true, { from: broken.index + 1 });
    expect(child.exitCode).toBeNull();
    child.kill('SIGINT');
    expect((await child).exitCode).toBe(0);
  });
});

describe('plan --watch', () => {
  it('renders again when the inventory changes', async () => {
    await ws.write('recipes/app.yaml', good);
    await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
    child = spawnCli(['plan', '--watch', '--json', `${ws.dir}/recipes`, '-b', `${ws.dir}/build`]);
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    const until = async (re: RegExp) => {
      for (let i = 0; i < 200 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 50));
      expect(out).toMatch(re);
    };
    await until(/"host":"localhost"/);
    await ws.write('build/inventory', '[app]\nsecondhost ansible_connection=local\n');
    await until(/"host":"secondhost"/);
    child.kill('SIGTERM');
    expect((await child).exitCode).toBe(0);
  });
});
