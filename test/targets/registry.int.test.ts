import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openTarget, targetOptionsSchemas, targetPlugins } from '../../targets/registry.js';
import type { Target } from '../../targets/types.js';
import { recipeYaml, runCli, workspace } from '../helpers/cli.js';

const NOT_PLUGINS = new Set(['types.ts', 'registry.ts']);
const TARGET_METHODS: (keyof Target)[] = ['check', 'put', 'list', 'stat', 'get', 'delete'];

let ws: Awaited<ReturnType<typeof workspace>>;
beforeEach(async () => {
  ws = await workspace('lsb-registry-');
});
afterEach(async () => ws.cleanup());

/** A URI and options each plugin's factory accepts without contacting anything (only check() and I/O do). */
const sample = (scheme: string, dir: string): { uri: string; options?: Record<string, unknown> } | undefined =>
  ({
    file: { uri: dir },
    nfs: { uri: `nfs://${dir}` },
    s3: { uri: 's3://bucket/prefix/' },
    azfile: { uri: 'azfile://account/share/dir', options: { sasToken: 'sv=2024&sig=x' } },
  })[scheme];

describe('target registry', () => {
  it('registers exactly the plugin files in targets/, each under the scheme it exports, loading that file on demand', async () => {
    const files = (await readdir(new URL('../../targets/', import.meta.url))).filter((f) => f.endsWith('.ts') && !NOT_PLUGINS.has(f));
    const schemes: string[] = [];
    for (const file of files) {
      const plugin = (await import(`../../targets/${file}`)) as Record<string, unknown>;
      expect(typeof plugin.scheme, `${file} exports its scheme`).toBe('string');
      const scheme = plugin.scheme as string;
      schemes.push(scheme);
      const registered = targetPlugins.get(scheme);
      expect(registered, `${file} is registered under '${scheme}'`).toBeDefined();
      expect(Object.values(plugin), `${file} provides the factory registered for '${scheme}'`).toContain(await registered!.load());
      expect(Object.values(plugin), `${file} provides the options schema registered for '${scheme}'`).toContain(registered!.optionsSchema);
      expect(targetOptionsSchemas.get(scheme)).toBe(registered!.optionsSchema);
    }
    expect(schemes.sort()).toEqual([...targetPlugins.keys()].sort());
    expect(schemes.sort()).toEqual([...targetOptionsSchemas.keys()].sort());
  });

  it('every registered factory produces a target with the whole Target interface', async () => {
    for (const scheme of targetPlugins.keys()) {
      const example = sample(scheme, ws.dir);
      expect(example, `the test knows a sample URI for '${scheme}'`).toBeDefined();
      const target = await openTarget(example!.uri, example!.options);
      expect(target.uri).toBe(example!.uri);
      for (const method of TARGET_METHODS) expect(typeof target[method], `${scheme}: ${method}()`).toBe('function');
    }
  });

  it('a local target opened through the registry stores, lists and reads back an archive', async () => {
    const target = await openTarget(`file://${ws.dir}`);
    await target.check();
    const upload = await target.put('a.tar.zst');
    upload.stream.end('archive bytes');
    const stored = await upload.commit();
    expect(stored).toMatchObject({ name: 'a.tar.zst', size: 13 });
    expect((await target.list()).map((o) => o.name)).toEqual(['a.tar.zst']);
    expect(await text(await target.get('a.tar.zst'))).toBe('archive bytes');
  });

  it('opens bare paths and file:// as local, rejects unknown schemes with ENOTARGET', async () => {
    expect((await openTarget('/backups')).uri).toBe('/backups');
    expect((await openTarget('file:///backups')).uri).toBe('file:///backups');
    expect((await openTarget('nfs:///mnt/b')).uri).toBe('nfs:///mnt/b');
    await expect(openTarget('ftp://host/x')).rejects.toMatchObject({ code: 'ENOTARGET' });
  });

  it('refuses a target naming no place instead of storing in the working directory or in /', async () => {
    for (const uri of ['', ' ', 'file://', 'nfs://']) await expect(openTarget(uri), JSON.stringify(uri)).rejects.toMatchObject({ code: 'ENOTARGET' });
    // -t "$UNSET" through the CLI: a usage error, and no archive in the working directory.
    await ws.write('inventory', '[app]\nlocalhost ansible_connection=local\n');
    await ws.write('r/demo.yaml', recipeYaml('demo', '  hosts: {group: app}\n  backup:\n    snapshot: [{run: echo hi, output: hi.txt}]\n'));
    const r = await runCli(['apply', 'r', '-b', 'inventory', '-t', ''], { cwd: ws.dir, env: { LSBACKUP_CONFIG: '', XDG_CONFIG_HOME: ws.dir } });
    expect(r.exitCode, r.stderr).toBe(64);
    expect((await readdir(ws.dir)).filter((f) => f.startsWith('lsbackup-'))).toEqual([]);
  });

  it('a backup to a local directory never loads the S3 or Azure SDK (built CLI)', async () => {
    // Module hooks that make loading either SDK fail, by import (ES module loader hook) or by
    // require (the bundled CLI is CommonJS): if any code path of a local backup loaded one, the
    // backup would fail instead of succeed.
    const noRequire = await ws.write(
      'no-sdk-require.cjs',
      `const Module = require('node:module');
const load = Module._load;
Module._load = function (request, ...rest) {
  if (/^@aws-sdk\\/|^@azure\\//.test(request)) throw new Error('remote target SDK imported: ' + request);
  return load.call(this, request, ...rest);
};
`,
    );
    const hooks = await ws.write(
      'no-sdk-hooks.mjs',
      `export async function resolve(specifier, context, next) {
  if (/^@aws-sdk\\/|^@azure\\//.test(specifier)) throw new Error('remote target SDK imported: ' + specifier);
  return next(specifier, context);
}
`,
    );
    const register = await ws.write('no-sdk.mjs', `import { register } from 'node:module';\nregister(${JSON.stringify(`file://${hooks}`)});\n`);
    await ws.write('data/app.conf', 'setting=1\n');
    await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
    await ws.write('recipes/app.yaml', recipeYaml('app', `hosts: { group: app, run: all }\nbackup:\n  collect:\n    - path: ${ws.dir}/data\n`));
    const backups = path.join(ws.dir, 'backups');
    const env = { NODE_OPTIONS: `--import=${register} --require=${noRequire}` };
    const r = await runCli(['apply', path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'build'), '-t', backups], { env });
    expect(r.stderr).not.toContain('remote target SDK imported');
    expect(r.exitCode, r.stderr).toBe(0);
    expect((await readdir(backups)).filter((n) => n.endsWith('.tar.gz'))).toHaveLength(1);
    // The hook does bite: opening an s3:// target under it fails.
    const s3 = await runCli(['list', '-t', 's3://bucket/x'], { env });
    expect(s3.stderr + s3.stdout).toContain('remote target SDK imported: @aws-sdk/');
    expect(await readFile(path.join(ws.dir, 'data/app.conf'), 'utf8')).toBe('setting=1\n');
  });
});
