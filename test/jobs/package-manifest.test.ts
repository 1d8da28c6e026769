/**
 * What `npm install lsbackup` ships and pulls in: the license its package.json names, the docs
 * the systemd units point at, and runtime dependencies that the runtime code imports (a package
 * only tests or no code use belongs in devDependencies, or nowhere).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cli.js';

const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { license: string; files: string[]; dependencies: Record<string, string> };

/** Every .ts file under dir. */
function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(dir, f));
}

describe('package.json', () => {
  it('names Apache-2.0 and the repository has its LICENSE text', () => {
    expect(pkg.license).toBe('Apache-2.0');
    const license = readFileSync(path.join(repoRoot, 'LICENSE'), 'utf8');
    expect(license).toMatch(/Apache License\s+Version 2\.0, January 2004/);
    expect(license).toContain('TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION');
  });

  it('ships docs/', () => {
    expect(pkg.files).toContain('docs');
  });

  it('lists as dependencies only packages the runtime code (engine/, targets/) imports', () => {
    const runtime = [...sources(path.join(repoRoot, 'engine')), ...sources(path.join(repoRoot, 'targets'))].map((f) => readFileSync(f, 'utf8')).join('\n');
    const unused = Object.keys(pkg.dependencies).filter((name) => !new RegExp(`(from |import\\(|require\\()'${name}(/[^']*)?'`).test(runtime));
    expect(unused).toEqual([]);
  });
});
