/** Integration tier: it runs git (the repo's tracked files), which the unit tier does not have. */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { danglingReferences } from '../../scripts/check-repo-paths.mjs';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function repoOf(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lsbackup-paths-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
  return dir;
}

describe('references to repo paths (scripts/check-repo-paths.mjs)', () => {
  it('every repo path that a comment or a doc of this repo names exists', () => {
    const files = execFileSync('git', ['ls-files'], { cwd: repoRoot, encoding: 'utf8' }).split('\n').filter(Boolean);
    expect(danglingReferences(repoRoot, files)).toEqual([]);
  });

  it('reports a missing path in a code comment, a doc and a Markdown link, and nothing in strings, placeholders or ignored folders', async () => {
    const files = {
      '.gitignore': 'bench/out/\n',
      'engine/a.ts': [
        '// Exit codes (DESIGN.md); the reader is engine/gone.ts.',
        "const uri = 's3://bucket/x'; // engine/a.js is this file, built",
        "export const p = 'engine/only-in-a-string.ts' + uri;",
        '/* Block comment naming test/missing.test.ts. */',
      ].join('\n'),
      'docs/guide.md': 'See engine/a.ts, `targets/<plugin>.ts`, [the faults](../docs/faults.md) and [here](guide.md#top).\n',
      'bench/run.mjs': '// Results go to bench/out/run.json.\n',
      'test/a.test.ts': '// Next to engine/a.ts.\n',
      'deploy/setup.sh': 'echo docs/not-a-comment.md # see docs/guide.md and docs/old.md\n',
    };
    const root = await repoOf(files);
    expect(danglingReferences(root, Object.keys(files)).sort()).toEqual(
      [
        'deploy/setup.sh: docs/old.md',
        'docs/guide.md: ../docs/faults.md',
        'engine/a.ts: DESIGN.md',
        'engine/a.ts: engine/gone.ts',
        'engine/a.ts: test/missing.test.ts',
      ].sort(),
    );
  });
});
