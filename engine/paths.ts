import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The lsbackup package root (where package.json, recipes/ and schemas/ live), found by walking
 * up from this file so it is right both from source (tests) and from dist/ (the built CLI).
 */
function findPackageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'lsbackup') return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('lsbackup package root not found');
    dir = parent;
  }
}

export const packageRoot = findPackageRoot();
export const bundledRecipesDir = path.join(packageRoot, 'recipes');
/** The installed config schema: what an editor's `$schema` modeline in a config points at. */
export const configSchemaFile = path.join(packageRoot, 'schemas', 'config.schema.json');
