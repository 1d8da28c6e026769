import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';

const repo = path.resolve(import.meta.dirname, '../..');
const script = path.join(repo, 'scripts/gen-shapes.mjs');
const run = promisify(execFile);

/** `node scripts/gen-shapes.mjs ...args` on `root`: exit code and stderr, as `npm run check:shapes` shows them. */
async function genShapes(root: string, ...args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await run(process.execPath, [script, ...args, '--root', root]);
    return { code: 0, stderr };
  } catch (e) {
    const failed = e as { code: number; stderr: string };
    return { code: failed.code, stderr: failed.stderr };
  }
}

/** A copy of what the check reads: the schemas and the committed generated types. */
async function copyOfRepo(): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'lsbackup-shapes-'));
  await cp(path.join(repo, 'schemas'), path.join(root, 'schemas'), { recursive: true });
  await cp(path.join(repo, 'engine/shapes'), path.join(root, 'engine/shapes'), { recursive: true });
  return root;
}

let root: string | undefined;
afterEach(async () => {
  if (root) await rm(root, { recursive: true, force: true });
  root = undefined;
});

describe('npm run check:shapes (scripts/gen-shapes.mjs --check)', () => {
  it('passes on the committed schemas and generated types', async () => {
    expect(await genShapes(repo, '--check')).toEqual({ code: 0, stderr: '' });
  });

  it('fails naming the generated file when a schema changed and its types were not regenerated; gen:shapes brings them back in step', async () => {
    root = await copyOfRepo();
    const schemaFile = path.join(root, 'schemas/metadata.schema.json');
    const schema = JSON.parse(await readFile(schemaFile, 'utf8'));
    schema.properties.retainedUntil = { type: 'string', description: 'A field added to the schema only.' };
    await writeFile(schemaFile, JSON.stringify(schema, null, 2));

    const drifted = await genShapes(root, '--check');
    expect(drifted.code).toBe(1);
    expect(drifted.stderr).toContain('engine/shapes/metadata.generated.ts does not match its schema');
    expect(drifted.stderr).toContain('npm run gen:shapes');
    expect(drifted.stderr).not.toContain('recipe.generated.ts');

    expect((await genShapes(root)).code).toBe(0);
    expect(await genShapes(root, '--check')).toEqual({ code: 0, stderr: '' });
    expect(await readFile(path.join(root, 'engine/shapes/metadata.generated.ts'), 'utf8')).toMatch(/retainedUntil\?: string;/);
  });

  it('fails when a generated file was edited by hand', async () => {
    root = await copyOfRepo();
    const typesFile = path.join(root, 'engine/shapes/recipe.generated.ts');
    const text = await readFile(typesFile, 'utf8');
    await writeFile(typesFile, text.replace("run?: 'first' | 'all';", "run?: 'first' | 'all' | 'some';"));
    expect(text).toContain("run?: 'first' | 'all';");

    const drifted = await genShapes(root, '--check');
    expect(drifted.code).toBe(1);
    expect(drifted.stderr).toContain('engine/shapes/recipe.generated.ts does not match its schema');
  });
});
