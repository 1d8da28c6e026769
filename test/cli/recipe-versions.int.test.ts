/** Several versions of one recipe side by side: the one whose appliesTo fits the detected component version runs. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { runCli, workspace } from '../helpers/cli.js';

let ws: Awaited<ReturnType<typeof workspace>>;
const build = () => path.join(ws.dir, 'build');
const target = () => path.join(ws.dir, 'backups');

const variant = (version: string, appliesTo: string, label: string) => `apiVersion: lsbackup/v1
kind: Recipe
metadata:
  name: db
  version: ${version}
  appliesTo: "${appliesTo}"
spec:
  hosts: { group: app }
  vars: { installed: "PostgreSQL 12.9" }
  version: echo {{vars.installed}}
  backup:
    snapshot:
      - run: echo ${label}
        output: which.txt
`;

beforeEach(async () => {
  ws = await workspace();
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
  await ws.write('recipes/db-1.yaml', variant('1.4.0', '<13', 'old-layout'));
  await ws.write('recipes/db-2.yaml', variant('2.0.0', '>=13', 'new-layout'));
});
afterEach(async () => ws.cleanup());

async function backupWith(installed: string) {
  const r = await runCli(['apply', path.join(ws.dir, 'recipes'), '-b', build(), '-t', target(), '--var', `db.installed=${installed}`]);
  const names = (await readdir(target())).filter((n) => n.endsWith('.tar.gz')).sort();
  return { r, archive: path.join(target(), names.at(-1) ?? '') };
}

describe('recipe versions chosen by appliesTo', () => {
  it('runs 1.x for PostgreSQL 12 and 2.x for PostgreSQL 15, and records which', async () => {
    for (const [installed, recipeVersion, label] of [
      ['PostgreSQL 12.9', '1.4.0', 'old-layout'],
      ['psql (PostgreSQL) 15.4 (Debian 15.4-1)', '2.0.0', 'new-layout'],
    ] as const) {
      const { r, archive } = await backupWith(installed);
      expect(r.exitCode, r.stderr).toBe(0);
      const meta = JSON.parse(await readFile(`${archive}.metadata.json`, 'utf8'));
      expect(meta.components[0].recipe.version).toBe(recipeVersion);
      expect(meta.components[0].componentVersion).toBe(installed);
      expect((await execa('tar', ['xzOf', archive, 'db/localhost/which.txt'])).stdout).toBe(label);
      // Only the recipe that ran travels in the backup.
      const listing = (await execa('tar', ['tzf', archive])).stdout;
      expect(listing).toContain(`lsbackup/recipes/db-${recipeVersion}.yaml`);
      expect(listing.match(/lsbackup\/recipes\//g)).toHaveLength(1);
      await new Promise((res) => setTimeout(res, 1100));
    }
  });

  it('fails the component clearly when no version applies', async () => {
    await ws.write('recipes/db-2.yaml', variant('2.0.0', '>=13 <16', 'new-layout'));
    const { r } = await backupWith('PostgreSQL 17.1');
    expect(r.exitCode).toBe(1);
    expect(r.stdout + r.stderr).toContain('no version of recipe db applies to component version PostgreSQL 17.1 (17.1.0)');
  });

  it('rejects an appliesTo that is not a semver range, with its position', async () => {
    const file = await ws.write('recipes/db-2.yaml', variant('2.0.0', 'thirteen or newer', 'x'));
    const r = await runCli(['validate', path.join(ws.dir, 'recipes')]);
    expect(r.exitCode).toBe(78);
    expect(r.stderr).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: 'thirteen or newer' is not a semver range`));
  });
});
