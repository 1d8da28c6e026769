/**
 * Every metadata.json read back is checked against schemas/metadata.schema.json: a damaged or
 * foreign one gives one clear error (the backup, the first problems) through show, verify and
 * restore, and metadata written by an older lsbackup still reads. Driven through the built CLI
 * on a real backup whose archive is rewritten with the system tar.
 */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliOutput, recipeYaml, runCli, succeeded, workspace, jsonEvents } from '../helpers/cli.js';

let ws: Awaited<ReturnType<typeof workspace>>;
let build: string;
let recipes: string;
/** The real backup every case starts from. */
let original: { file: string; name: string; metadata: string };

beforeAll(async () => {
  ws = await workspace('lsb-metadata-read-');
  build = path.join(ws.dir, 'build');
  recipes = path.join(ws.dir, 'recipes');
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
  await ws.write('data/notes.txt', 'hello metadata\n');
  await ws.write(
    'recipes/app.yaml',
    recipeYaml(
      'app',
      `hosts: { group: app }
vars:
  dir: ${ws.dir}/data
backup:
  snapshot:
    - run: echo dump
      output: dump.txt
  collect:
    - path: "{{vars.dir}}"
restore:
  apply:
    - run: cat > /dev/null
      input: dump.txt
`,
    ),
  );
  const target = path.join(ws.dir, 'original');
  const r = succeeded(await runCli(['apply', recipes, '-b', build, '-t', target, '--json']));
  const name = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .find((e) => e.type === 'archive.stored').name as string;
  const file = path.join(target, name);
  original = { file, name, metadata: await readFile(`${file}.metadata.json`, 'utf8') };
});
afterAll(async () => ws.cleanup());

/**
 * A copy of the backup in its own target whose metadata.json (entry and sidecar) is `text`; the
 * entries and their order stay as they were, and the .sha256 sidecar matches the new archive.
 */
async function backupWithMetadata(label: string, text: string): Promise<{ target: string; archive: string }> {
  const target = path.join(ws.dir, label);
  const tree = path.join(ws.dir, `${label}-tree`);
  await rm(target, { recursive: true, force: true });
  await rm(tree, { recursive: true, force: true });
  await mkdir(target, { recursive: true });
  await mkdir(tree, { recursive: true });
  const order = (await execa('tar', ['-tzf', original.file])).stdout.split('\n').filter(Boolean);
  expect(order.at(-1)).toBe('metadata.json');
  await execa('tar', ['-xzf', original.file, '-C', tree]);
  await writeFile(path.join(tree, 'metadata.json'), text);
  await writeFile(path.join(ws.dir, `${label}.list`), order.join('\n') + '\n');
  const archive = path.join(target, original.name);
  await execa('tar', ['-czf', archive, '-C', tree, '--no-recursion', '-T', path.join(ws.dir, `${label}.list`)]);
  const sha = createHash('sha256')
    .update(await readFile(archive))
    .digest('hex');
  await writeFile(`${archive}.sha256`, `${sha}  ${original.name}\n`);
  await writeFile(`${archive}.metadata.json`, text);
  return { target, archive };
}

/** show, verify and restore --dry-run of the backup in `target`. */
async function readBack(target: string, archive: string) {
  return {
    show: await runCli(['show', original.name, '-t', target]),
    verify: await runCli(['verify', original.name, '-t', target]),
    restore: await runCli(['restore', archive, '-b', build, '--recipes', recipes, '--dry-run']),
  };
}

describe('metadata.json read back', () => {
  it('a foreign metadata.json: show, verify and restore fail (exit 1) naming the backup and the first problems', async () => {
    const { target, archive } = await backupWithMetadata('foreign', JSON.stringify({ name: 'my-app', version: '1.0.0', private: true }, null, 2));
    for (const [command, r] of Object.entries(await readBack(target, archive))) {
      expect(r.exitCode, `${command}\n${cliOutput(r)}`).toBe(1);
      const output = cliOutput(r);
      expect(output, command).toContain(`Backup ${original.name}: metadata.json is not lsbackup metadata this version can read`);
      expect(output, command).toContain("metadata.json: the document is missing the required key 'lsbackupVersion'");
      expect(output, command).not.toMatch(/unexpected error|TypeError/);
    }
  });

  it('a damaged metadata.json with intact entries: show, verify and restore fail naming the bad fields', async () => {
    const metadata = JSON.parse(original.metadata);
    metadata.status = 'done';
    delete metadata.components[0].hosts[0].steps;
    const { target, archive } = await backupWithMetadata('damaged', JSON.stringify(metadata, null, 2));
    for (const [command, r] of Object.entries(await readBack(target, archive))) {
      expect(r.exitCode, `${command}\n${cliOutput(r)}`).toBe(1);
      const output = cliOutput(r);
      expect(output, command).toContain(`Backup ${original.name}: metadata.json is not lsbackup metadata this version can read`);
      expect(output, command).toContain("metadata.json: 'status' must be one of: success, partial, failed");
      expect(output, command).toContain("metadata.json: 'components[0].hosts[0]' is missing the required key 'steps'");
    }
    // list still lists it, with the first problem of its sidecar.
    const list = await runCli(['list', '-t', target, '--json']);
    expect(list.exitCode, cliOutput(list)).toBe(0);
    expect(jsonEvents(list.stdout, 'list.backup')[0]).toMatchObject({ name: original.name, status: 'unknown' });
    expect(jsonEvents(list.stdout, 'list.backup')[0]!.metadataNote).toBe(
      `metadata unreadable: ${original.name}.metadata.json: 'status' must be one of: success, partial, failed`,
    );
  });

  it('metadata written by an older lsbackup (none of the fields added since) still reads through show, verify and restore', async () => {
    const metadata = JSON.parse(original.metadata);
    metadata.lsbackupVersion = '0.0.1';
    delete metadata.job;
    for (const component of metadata.components)
      for (const host of component.hosts) {
        delete host.note;
        delete host.transport;
      }
    for (const entry of metadata.entries) delete entry.changedDuringRead;
    const { target, archive } = await backupWithMetadata('older', JSON.stringify(metadata));
    const { show, verify, restore } = await readBack(target, archive);
    expect(show.exitCode, cliOutput(show)).toBe(0);
    expect(show.stdout).toContain('app');
    expect(verify.exitCode, cliOutput(verify)).toBe(0);
    expect(verify.stdout).toContain('OK');
    expect(restore.exitCode, cliOutput(restore)).toBe(0);
  });
});
