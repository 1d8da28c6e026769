/**
 * The shipped recipes and profiles are parsed and validated once, by the build
 * (scripts/build-prevalidated.mjs -> dist/engine/schema/validators/prevalidated.json); a run takes
 * a file whose bytes are exactly a shipped one's from there. So the build's values must be what the
 * engine parses from those files now, and any other bytes (an edited copy) must be checked in full.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRecipe } from '../../engine/recipes/load.js';
import { parseProfile } from '../../engine/profiles/load.js';
import { cliOutput, repoRoot, runCli, workspace } from '../helpers/cli.js';

const generated = JSON.parse(readFileSync(join(repoRoot, 'dist/engine/schema/validators/prevalidated.json'), 'utf8')) as Record<
  'recipe' | 'profile',
  Record<string, string>
>;
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const shipped = (dir: string) =>
  readdirSync(join(repoRoot, dir))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join(repoRoot, dir, f));

describe('prevalidated shipped recipes and profiles', () => {
  const ws = workspace('lsb-prevalidated-');
  afterAll(async () => (await ws).cleanup());

  it('hold every shipped recipe and profile, each exactly as the engine parses it now', () => {
    const recipes = shipped('recipes');
    expect(recipes.length).toBeGreaterThan(10);
    for (const file of recipes) {
      const bytes = readFileSync(file);
      const { loaded, problems } = parseRecipe(file, bytes);
      expect(problems, file).toEqual([]);
      expect(JSON.parse(generated.recipe[sha256(bytes)] ?? 'null'), file).toEqual(loaded!.recipe);
    }
    for (const file of shipped('profiles')) {
      const bytes = readFileSync(file);
      expect(JSON.parse(generated.profile[sha256(bytes)] ?? 'null'), file).toEqual(parseProfile(file, bytes).value);
    }
  });

  it('give each caller its own copy', async () => {
    const { prevalidatedValue } = (await import(
      pathToFileURL(join(repoRoot, 'dist/engine/schema/precompiled.js')).href
    )) as typeof import('../../engine/schema/precompiled.js');
    const digest = sha256(readFileSync(join(repoRoot, 'recipes/haproxy.yaml')));
    const first = prevalidatedValue<{ metadata: { name: string } }>('recipe', digest)!;
    first.metadata.name = 'changed by a caller';
    expect(prevalidatedValue<{ metadata: { name: string } }>('recipe', digest)!.metadata.name).toBe('haproxy');
    expect(prevalidatedValue('recipe', sha256(Buffer.from('not shipped')))).toBeUndefined();
  });

  it('are found by content: a shipped recipe edited by one key is checked in full, with its position', async () => {
    const { write } = await ws;
    const text = readFileSync(join(repoRoot, 'recipes/haproxy.yaml'), 'utf8');
    const line = text.split('\n').findIndex((l) => l === '  hosts:' || l.startsWith('  hosts: ')) + 1;
    expect(line).toBeGreaterThan(0);
    const edited = await write('edited/haproxy.yaml', text.replace(/^ {2}hosts:/m, '  hostz:'));
    const r = await runCli(['validate', edited]);
    expect(r.exitCode, cliOutput(r)).not.toBe(0);
    expect(r.stdout + r.stderr).toContain(`${edited}:${line}:3: unknown key 'hostz' in 'spec' (did you mean 'hosts'?)`);
    // The same bytes under another name are the shipped recipe.
    const copy = await write('copy/any-name.yaml', text);
    const ok = await runCli(['validate', copy]);
    expect(ok.exitCode, cliOutput(ok)).toBe(0);
    expect(ok.stdout).toContain('haproxy@');
  });
});
