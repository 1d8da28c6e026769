/**
 * One target listed twice, written two ways. `targets: [./t17, /…/t17/]` with `keepLast: 1` ran,
 * printed `Result: success -> <name>` and the first copy's retention deleted <name> (only `_1`
 * was left); `-t t17 -t t17` wrote two copies into one directory; a link to the directory failed
 * on the run's own lock. Now each is refused before anything runs, naming both entries.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { cliOutput, recipeYaml, runCli, workspace } from '../helpers/cli.js';

let ws: Awaited<ReturnType<typeof workspace>>;
let ran: string;

beforeEach(async () => {
  ws = await workspace('lsb-dup-targets-');
  ran = path.join(ws.dir, 'ran');
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
  await ws.write(
    'recipes/app.yaml',
    recipeYaml('app', `hosts: { group: app }\ndetect: "true"\nbackup:\n  snapshot:\n    - run: touch ${ran}; echo data\n      output: data.txt\n`),
  );
  await ws.write('t17/.keep', '');
  await symlink('t17', path.join(ws.dir, 'link17'));
});
afterEach(async () => ws.cleanup());

const stored = async () => (await readdir(path.join(ws.dir, 't17'))).filter((n) => n !== '.keep');
const env = () => ({ XDG_CACHE_HOME: path.join(ws.dir, 'cache') });

describe('a target given twice', () => {
  it('`run` of a config listing it relative and absolute: exit 78 at file:line:col, nothing run, nothing stored or deleted', async () => {
    const config = await ws.write(
      'c.yaml',
      `build: ./build\nrecipes: [./recipes]\nretention: { keepLast: 1 }\ntargets: [./t17, ${path.join(ws.dir, 't17')}/]\n`,
    );
    const validate = await runCli(['config', 'validate', '-c', config], { env: env() });
    expect(validate.exitCode, cliOutput(validate)).toBe(78);
    expect(validate.stdout + validate.stderr).toContain(
      `c.yaml:4:18: 'targets[1]' "${path.join(ws.dir, 't17')}/" is the same place as 'targets[0]' "./t17" (4:11)`,
    );
    const r = await runCli(['run', '-c', config], { env: env() });
    expect(r.exitCode, cliOutput(r)).toBe(78);
    expect(r.stderr).toContain('is the same place as \'targets[0]\' "./t17"');
    expect(await stored()).toEqual([]);
  }, 120_000);

  it.each([
    ['the same path', 't17'],
    ['with a trailing slash', 't17/'],
    ['through a symbolic link', 'link17'],
  ])(
    '`apply -t t17 -t <%s>`: exit 64 naming both, nothing run',
    async (_how, second) => {
      const r = await runCli(['apply', 'recipes', '-b', 'build', '-t', 't17', '-t', second], { cwd: ws.dir, env: env() });
      expect(r.exitCode, cliOutput(r)).toBe(64);
      expect(r.stderr).toContain(
        `target '${second}' is the same place as target 't17' (${path.join(ws.dir, 't17')}): a run would store its backup there twice`,
      );
      expect(r.stderr).not.toMatch(/in use by another lsbackup run/);
      expect(await stored()).toEqual([]);
      expect(await readdir(ws.dir)).not.toContain('ran');
    },
    120_000,
  );
});
