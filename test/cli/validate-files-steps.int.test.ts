/**
 * A restore `files:` step must have something to put back. A collect step marked `optional: true`
 * finds nothing on a host where its path is missing and the backup succeeds; a files step for that
 * path without `optional: true` then makes every restore of the backup refused. `lsbackup validate`
 * and `lsbackup recipe test` say so at the files step's file:line:col, before anything runs, as
 * they do for a restore input no backup step writes. The recipe is the Redis fixture an author
 * wrote from docs/recipes.md alone, changed the ways an author gets it wrong.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { cliOutput, repoRoot, runCli, workspace } from '../helpers/cli.js';
import { pathExists } from '../infra/index.js';

const FIXTURE = path.join(repoRoot, 'test/recipes/fixtures/authoring/redis.yaml');

let ws: Awaited<ReturnType<typeof workspace>>;
beforeEach(async () => {
  ws = await workspace('lsb-files-steps-');
});
afterEach(async () => ws.cleanup());

/** The fixture with each [from, to] replaced once (each must be found), written as <name>/redis.yaml. */
async function variant(name: string, ...edits: [string, string][]): Promise<string> {
  let text = await readFile(FIXTURE, 'utf8');
  for (const [from, to] of edits) {
    expect(text, `the fixture holds ${JSON.stringify(from)}`).toContain(from);
    text = text.replace(from, to);
  }
  return ws.write(`${name}/redis.yaml`, text);
}

/** 1-based line and column of `text` in `file`'s content `source` (its first occurrence after `after`). */
function lineCol(source: string, text: string, after = ''): string {
  const at = source.indexOf(text, source.indexOf(after));
  const before = source.slice(0, at).split('\n');
  return `${before.length}:${before[before.length - 1]!.length + 1}`;
}

const OPTIONAL_COLLECT: [string, string] = ['        path: "{{vars.redis_config}}"\n', '        path: "{{vars.redis_config}}"\n        optional: true\n'];

it('validate refuses a files step that only an optional collect step feeds, at its file:line:col, with the fix', async () => {
  const file = await variant('optional-collect', OPTIONAL_COLLECT);
  const r = await runCli(['validate', file]);
  expect(r.exitCode, cliOutput(r)).toBe(78);
  const at = lineCol(await readFile(file, 'utf8'), '"{{vars.redis_config}}"', '- files:');
  expect(r.stderr).toContain(
    `${file}:${at}: files step puts back '{{vars.redis_config}}' ('/etc/redis/redis.conf' by the vars' defaults), which only optional collect steps save (spec.backup.collect[0]): ` +
      "a backup where the path was missing succeeds, and its restore is refused (give this files step 'optional: true' too, or make the collect step not optional)",
  );

  // The fix the message names: the files step is optional too.
  const fixed = await variant('fixed', OPTIONAL_COLLECT, [
    '      - files: "{{vars.redis_config}}"\n',
    '      - files: "{{vars.redis_config}}"\n        optional: true\n',
  ]);
  const ok = await runCli(['validate', fixed]);
  expect(ok.exitCode, cliOutput(ok)).toBe(0);
});

it('validate refuses a files step whose path no collect step saves, naming the collect paths', async () => {
  const file = await variant('uncollected', ['      - files: "{{vars.redis_config}}"', '      - files: "{{vars.redis_data_dir}}"']);
  const r = await runCli(['validate', file]);
  expect(r.exitCode, cliOutput(r)).toBe(78);
  const at = lineCol(await readFile(file, 'utf8'), '"{{vars.redis_data_dir}}"', '- files:');
  expect(r.stderr).toContain(
    `${file}:${at}: files step puts back '{{vars.redis_data_dir}}' ('/var/lib/redis' by the vars' defaults), under which no collect step saves anything: ` +
      "the collect paths are '{{vars.redis_config}}' ('/etc/redis/redis.conf' by the vars' defaults) (collect the path in spec.backup.collect, or correct it)",
  );
});

it('recipe test stops at validate (exit 78) before any step runs', async () => {
  const marker = path.join(ws.dir, 'seeded');
  const file = await variant('optional-collect', OPTIONAL_COLLECT, ['    seed:\n', `    seed:\n      - run: touch ${marker}\n`]);
  await ws.write('build/inventory', '[redis]\nlocalhost ansible_connection=local\n');
  const r = await runCli(['recipe', 'test', file, '-b', path.join(ws.dir, 'build')]);
  expect(r.exitCode, cliOutput(r)).toBe(78);
  expect(r.stdout + r.stderr).toContain("files step puts back '{{vars.redis_config}}'");
  expect(r.stdout).toContain(`recipe test ${file}: FAILED at validate`);
  expect(await pathExists(marker)).toBe(false);
});
