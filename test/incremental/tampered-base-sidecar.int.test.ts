/**
 * An incremental builds its references from its base's `.metadata.json` sidecar
 * (engine/app/base-sidecar.ts). Through the built CLI on the local host: a sidecar edited in the
 * target (an entry's sha256, size or mtime, an added entry) is not trusted: the next
 * `--incremental` is a full that says why, and restores; a base made before the sidecar's digest
 * was recorded (one line in its `.sha256`) is read whole once and held to its own metadata.json.
 * Another backup stored under a chain member's names, sidecars and all (of this cluster, or of
 * another renamed to match), is never built on, and what was built on the member is refused by restore.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { execa } from 'execa';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BackupMetadata } from '../../engine/archive/index.js';
import { expectRestores } from './steady-tree.js';
import { cliOutput, collectedTree, localCluster, type LocalCluster } from '../archive-integrity/support.js';

let c: LocalCluster;
let tree: string;
beforeEach(async () => {
  c = await localCluster();
  tree = await collectedTree(c);
  await writeFile(path.join(tree, 'steady.txt'), 'steady\n'.repeat(1000));
  await writeFile(path.join(tree, 'changing.txt'), 'first\n');
});
afterEach(async () => c.cleanup());

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const steady = () => `app/localhost/files${tree}/steady.txt`;

/** Rewrites the base's metadata sidecar in the target as `edit` says. */
async function editSidecar(name: string, edit: (m: BackupMetadata) => Promise<void> | void): Promise<void> {
  const file = path.join(c.target, `${name}.metadata.json`);
  const metadata = JSON.parse(await readFile(file, 'utf8')) as BackupMetadata;
  await edit(metadata);
  await writeFile(file, JSON.stringify(metadata));
}

/** As an lsbackup before the sidecar's digest was recorded wrote it: the archive's line only. */
async function olderSha256Sidecar(name: string): Promise<void> {
  const file = path.join(c.target, `${name}.sha256`);
  await writeFile(file, (await readFile(file, 'utf8')).split('\n')[0] + '\n');
}

/**
 * Another backup (`from`) stored under `name`: its archive and metadata sidecar copied over, its
 * `.sha256` naming them (so `sha256sum -c` passes); then removed under its own name.
 */
async function storeUnder(from: string, name: string): Promise<void> {
  const ownSha256 = (await readFile(path.join(c.target, `${from}.sha256`), 'utf8')).replaceAll(from, name);
  for (const suffix of ['', '.metadata.json'])
    await writeFile(path.join(c.target, `${name}${suffix}`), await readFile(path.join(c.target, `${from}${suffix}`)));
  await writeFile(path.join(c.target, `${name}.sha256`), ownSha256);
  for (const suffix of ['', '.metadata.json', '.sha256']) await rm(path.join(c.target, `${from}${suffix}`));
}

/** What GNU find prints as a file's signature (docs/incremental.md), as the host lists it. */
async function signature(file: string): Promise<string> {
  return (await execa('find', [file, '-printf', '%T@ %s %m %U %G %i %C@'])).stdout;
}

const edits: [string, (m: BackupMetadata) => Promise<void> | void][] = [
  ["an entry's sha256", (m) => void (m.entries.find((e) => e.path === steady())!.sha256 = '0'.repeat(64))],
  [
    "an entry's size and mtime",
    (m) =>
      void Object.assign(
        m.entries.find((e) => e.path === steady())!,
        { size: 5, mtime: '2020-01-01T00:00:00.000Z' },
      ),
  ],
  [
    // new.txt appeared on the host after the full: the forged entry says the full holds it, signature and all.
    'an entry added',
    async (m) => {
      const file = path.join(tree, 'new.txt');
      const bytes = await readFile(file);
      const stat = await signature(file);
      m.entries.push({ ...m.entries.find((e) => e.path === steady())!, path: `app/localhost/files${file}`, size: bytes.length, sha256: sha256(bytes), stat });
    },
  ],
];
it.each(edits)(
  'a base sidecar with %s edited in the target: the next --incremental is a full that says why, and it restores',
  async (_what, edit) => {
    const full = await c.backup(['--full']);
    // sha256sum -c checks the metadata sidecar too (the line the incremental holds it to).
    const check = await execa('sha256sum', ['-c', `${full.name}.sha256`], { cwd: c.target });
    expect(check.stdout).toBe(`${full.name}: OK\n${full.name}.metadata.json: OK`);

    await writeFile(path.join(tree, 'new.txt'), 'new\n');
    await editSidecar(full.name, edit);
    await writeFile(path.join(tree, 'changing.txt'), 'second\n');
    const next = await c.backup(['--incremental']);
    expect(next.metadata.kind, next.output).toBe('full');
    expect(next.metadata.entries.filter((e) => e.ref !== undefined)).toEqual([]);
    expect(next.output).toContain(
      `incremental: a full backup is made: the ${full.name}.metadata.json sidecar is not the one stored with ${full.name} (its sha256 is `,
    );
    expect(next.output).toContain(`it was edited or replaced, and references built from it would not restore`);
    await expectRestores(c, tree, next.name);
  },
  300_000,
);

it('a base from before the sidecar digest was recorded is read whole once and based on: unchanged files are references, and it restores', async () => {
  const full = await c.backup(['--full']);
  await olderSha256Sidecar(full.name);
  await writeFile(path.join(tree, 'changing.txt'), 'second\n');
  const incremental = await c.backup(['--incremental']);
  expect(incremental.output).toContain(`incremental: reading ${full.name} whole to check its metadata sidecar against it`);
  expect(incremental.metadata.kind).toBe('incremental');
  expect(incremental.metadata.entries.find((e) => e.path === steady())?.ref).toBe(full.metadata.backupId);
  await expectRestores(c, tree, incremental.name);
}, 300_000);

it('a base from before the sidecar digest was recorded, its sidecar edited: held to its own metadata.json, the next --incremental is a full', async () => {
  const full = await c.backup(['--full']);
  await olderSha256Sidecar(full.name);
  await editSidecar(full.name, edits[0]![1]);
  await writeFile(path.join(tree, 'changing.txt'), 'second\n');
  const next = await c.backup(['--incremental']);
  expect(next.metadata.kind, next.output).toBe('full');
  expect(next.output).toContain(`incremental: a full backup is made: the ${full.name}.metadata.json sidecar is not ${full.name}'s own metadata.json`);
  await expectRestores(c, tree, next.name);
}, 300_000);

// The chain below the base is held to the digests its runs recorded (metadata base.chainSha256):
// a member replaced under its own name, sidecars and all, is not built on.
it('a chain member replaced under its name by another backup of the cluster (its own sidecars, renamed): the next --incremental is a full that says why, and it restores', async () => {
  const full = await c.backup(['--full']);
  await writeFile(path.join(tree, 'changing.txt'), 'second\n');
  const first = await c.backup(['--incremental']);
  expect(first.metadata.base?.chainSha256).toEqual([(await readFile(path.join(c.target, `${full.name}.sha256`), 'utf8')).split(/\s/)[0]]);
  const other = await c.backup(['--full']);
  await storeUnder(other.name, full.name);
  const check = await execa('sha256sum', ['-c', `${full.name}.sha256`], { cwd: c.target });
  expect(check.stdout).toBe(`${full.name}: OK\n${full.name}.metadata.json: OK`);

  const next = await c.backup(['--incremental']);
  expect(next.metadata.kind, next.output).toBe('full');
  expect(next.output).toContain(`incremental: a full backup is made: the chain of ${first.name} is incomplete in `);
  expect(next.output).toContain(`${full.name} is not the backup the chain was built on (its .sha256 sidecar says `);
  await expectRestores(c, tree, next.name);
}, 300_000);

// Another cluster's backup copied over this cluster's names (an archive's name carries its
// cluster: the copy is renamed to match, its .sha256 naming it).
it("another cluster's backup over the newest backup's names: passed over, the next incremental builds on the intact full below, and restores", async () => {
  const full = await c.backup(['--full']);
  await writeFile(path.join(tree, 'changing.txt'), 'between\n');
  const first = await c.backup(['--incremental']);
  expect(first.metadata.base?.archive).toBe(full.name);
  const other = await c.backup(['--full', '--cluster', 'other']);
  expect(other.name).toMatch(/^lsbackup-other-/);
  await storeUnder(other.name, first.name);

  await writeFile(path.join(tree, 'changing.txt'), 'second\n');
  const next = await c.backup(['--incremental']);
  // Its metadata names another cluster: not the run its name says.
  expect([next.metadata.kind, next.metadata.base?.archive], next.output).toEqual(['incremental', full.name]);
  expect(next.metadata.entries.find((e) => e.path === steady())?.ref).toBe(full.metadata.backupId);
  await expectRestores(c, tree, next.name);
}, 300_000);

it("another cluster's backup over a chain member's names: the next --incremental is a full naming it; the incremental made on the member is refused by restore", async () => {
  const full = await c.backup(['--full']);
  await writeFile(path.join(tree, 'changing.txt'), 'between\n');
  const first = await c.backup(['--incremental']);
  await storeUnder((await c.backup(['--full', '--cluster', 'other'])).name, full.name);

  await writeFile(path.join(tree, 'changing.txt'), 'second\n');
  const next = await c.backup(['--incremental']);
  expect(next.metadata.kind, next.output).toBe('full');
  expect(next.output).toContain(`the chain of ${first.name} is incomplete in ${c.target}: ${full.name} is not the backup the chain was built on`);
  await expectRestores(c, tree, next.name);

  await rm(tree, { recursive: true });
  const refused = await c.restore(path.join(c.target, first.name));
  expect(refused.exitCode, cliOutput(refused)).not.toBe(0);
  expect(cliOutput(refused)).toContain(`but ${first.name} was based on backup ${full.metadata.backupId}: the base was replaced`);
  await expect(stat(tree), 'no host was touched').rejects.toThrow(/ENOENT/);
}, 300_000);

// Below the newest, a member is held to its sidecars by the listing too: no archive is read.
it('a chain member overwritten by bytes of another size, its sidecars left: the next --incremental is a full naming it, and it restores', async () => {
  const full = await c.backup(['--full']);
  await writeFile(path.join(tree, 'changing.txt'), 'between\n');
  const first = await c.backup(['--incremental']);
  const archive = path.join(c.target, full.name);
  const recorded = (await stat(archive)).size;
  await writeFile(archive, Buffer.alloc(4096, 7));

  await writeFile(path.join(tree, 'changing.txt'), 'second\n');
  const next = await c.backup(['--incremental']);
  expect(next.metadata.kind, next.output).toBe('full');
  expect(next.output).toContain(
    `the chain of ${first.name} is incomplete in ${c.target}: ${full.name} is 4096 bytes in ${c.target}, its .sha256 sidecar records ${recorded}: the archive was replaced or damaged`,
  );
  await expectRestores(c, tree, next.name);
}, 300_000);

it('a chain member whose .sha256 sidecar records no sha256: the next --incremental is a full saying it is damaged', async () => {
  const full = await c.backup(['--full']);
  await writeFile(path.join(tree, 'changing.txt'), 'between\n');
  const first = await c.backup(['--incremental']);
  const digest = (await readFile(path.join(c.target, `${full.name}.sha256`), 'utf8')).split(/\s/)[0];
  await writeFile(path.join(c.target, `${full.name}.sha256`), 'not a digest\n');

  const next = await c.backup(['--incremental']);
  expect(next.metadata.kind, next.output).toBe('full');
  expect(next.output).toContain(
    `the chain of ${first.name} is incomplete in ${c.target}: ${full.name} is not the backup the chain was built on (its .sha256 sidecar is damaged, the chain recorded ${digest}): it was replaced`,
  );
}, 300_000);

// verify holds the line to the bytes it reads, so it says what the next --incremental will do.
it("a .sha256 sidecar whose '# size' line is wrong, the archive intact: verify exit 0 with a warning that names the fix, and the next --incremental is a full", async () => {
  const full = await c.backup(['--full']);
  const sidecar = path.join(c.target, `${full.name}.sha256`);
  const size = (await stat(path.join(c.target, full.name))).size;
  await writeFile(sidecar, (await readFile(sidecar, 'utf8')).replace(`# size ${size} `, `# size ${size + 1} `));

  const verified = await c.verify(full.name);
  expect(verified.exitCode, cliOutput(verified)).toBe(0);
  expect(verified.stdout).toContain(
    `warning: its .sha256 sidecar records a stored size of ${size + 1} bytes, the archive is ${size} (its sha256 is the one recorded): the size line is wrong, and the next --incremental makes a full instead of building on it; write '# size ${size} ${full.name}' there`,
  );
  const next = await c.backup(['--incremental']);
  expect(next.metadata.kind, next.output).toBe('full');
  expect(next.output).toContain(`${full.name} is ${size} bytes in ${c.target}, its .sha256 sidecar records ${size + 1}`);
}, 300_000);

// PowerShell's Get-FileHash writes capitals, and `sha256sum -c` takes them: so does every reader of the .sha256 format (catalog/objects.ts).
it('a .sha256 sidecar rewritten in capitals: verify exit 0, restore (staged and --stream) restores, and the next --incremental builds on it; a wrong digest in capitals is still damage', async () => {
  const full = await c.backup(['--full']);
  const sidecar = path.join(c.target, `${full.name}.sha256`);
  const lines = (await readFile(sidecar, 'utf8')).split('\n');
  // Both digests (the archive's, the metadata sidecar's); the '# size' line is no digest.
  const capitals = lines.map((l) => (l.startsWith('#') ? l : l.replace(/^[0-9a-f]{64}/, (d) => d.toUpperCase()))).join('\n');
  expect(capitals).not.toBe(lines.join('\n'));
  await writeFile(sidecar, capitals);

  const verified = await c.verify(full.name);
  expect(verified.exitCode, cliOutput(verified)).toBe(0);
  expect(verified.stdout).toContain('stored digest  matches the .sha256 sidecar');
  for (const extra of [[], ['--stream']]) {
    await rm(tree, { recursive: true });
    const restored = await c.restore(path.join(c.target, full.name), extra);
    expect(restored.exitCode, cliOutput(restored)).toBe(0);
    expect(restored.stderr).toContain('Checked: the archive matched its .sha256 sidecar');
    expect(await readFile(path.join(tree, 'changing.txt'), 'utf8')).toBe('first\n');
  }
  await writeFile(path.join(tree, 'changing.txt'), 'second\n');
  const next = await c.backup(['--incremental']);
  expect(next.metadata.kind, next.output).toBe('incremental');
  expect(next.metadata.base?.archive).toBe(full.name);
  await expectRestores(c, tree, next.name);

  // The archive's digest with one digit changed, in capitals: damage, in the words of a lower-case one.
  const stored = lines[0]!.slice(0, 64);
  const wrong = (stored[0] === '0' ? '1' : '0') + stored.slice(1);
  await writeFile(sidecar, [wrong.toUpperCase() + lines[0]!.slice(64), ...lines.slice(1)].join('\n'));
  const damaged = await c.verify(full.name);
  expect(damaged.exitCode, cliOutput(damaged)).toBe(1);
  expect(damaged.stdout).toContain(`the stored archive has sha256 ${stored}, its .sha256 sidecar says ${wrong}`);
  await rm(tree, { recursive: true });
  const refused = await c.restore(path.join(c.target, full.name));
  expect(refused.exitCode, cliOutput(refused)).toBe(1);
  expect(refused.stderr).toContain(`refused before any host was touched`);
  expect(refused.stderr).toContain(`its .sha256 sidecar says ${wrong}`);
  await expect(stat(tree), 'no host was touched').rejects.toThrow(/ENOENT/);
}, 300_000);
