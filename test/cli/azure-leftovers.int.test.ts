/**
 * What a killed run leaves on an Azure file share (issue 19.3): the temp file its upload was
 * streaming into. Against the stand-in of the Azure Files REST API (test/infra/azure-file-standin.ts;
 * no emulator has the File service) through the BUILT CLI, with a real SIGKILL: the temp file
 * is kept while younger than `staleUploadHours` (another machine may still be writing it), then
 * `prune --leftovers --dry-run` lists it, the cluster's next run removes its own (not another
 * cluster's) and `prune --leftovers` removes the rest. Azure's Last-Modified of a file is its last
 * write; the stand-in reports the file's mtime, so "a day later" is an mtime set back a day.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, utimes, writeFile, copyFile } from 'node:fs/promises';
import path from 'node:path';
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  generateAccountSASQueryParameters,
  ShareServiceClient,
  StorageSharedKeyCredential,
} from '@azure/storage-file-share';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cliOutput, recipeYaml, runCli, spawnCli, workspace, jsonEvent, jsonEvents } from '../helpers/cli.js';
import { startAzureFileStandIn, type AzureFileStandIn } from '../infra/azure-file-standin.js';

const SHARE = 'backups';
const DIR = 'prod';
let az: AzureFileStandIn;
let ws: Awaited<ReturnType<typeof workspace>>;
let env: Record<string, string>;

beforeAll(async () => {
  [az, ws] = await Promise.all([startAzureFileStandIn(), workspace('lsb-az-leftovers-')]);
  await new ShareServiceClient(az.endpoint, new StorageSharedKeyCredential(az.account, az.accountKey)).getShareClient(SHARE).create();
  env = { AZ_KEY: az.accountKey };
  await ws.write('build/inventory', '[app]\nlocalhost ansible_connection=local\n');
  await ws.write('data/app.conf', 'setting=1\n');
  await writeFile(path.join(ws.dir, 'data/big.bin'), randomBytes(6 * 1024 * 1024));
  const collect = `hosts: { group: app }\nbackup:\n  collect:\n    - path: ${ws.dir}/data\n`;
  await ws.write('recipes/app.yaml', recipeYaml('app', collect));
  // Its post-step outlasts the test: the run is SIGKILLed while its archive waits uncommitted.
  await ws.write('recipes-hanging/app.yaml', recipeYaml('app', `${collect}  post:\n    - run: sleep 600\n`));
}, 60_000);

afterAll(async () => {
  await Promise.all([az?.stop(), ws?.cleanup()]);
});

const shareDir = () => path.join(az.dataDir, SHARE, DIR);
const tempFiles = async () => (await readdir(shareDir())).filter((n) => n.startsWith('.lsbackup-tmp-')).sort();
const target = () => ['-t', `azfile://${az.account}/${SHARE}/${DIR}`, '--target-option', `endpoint=${az.endpoint}`, '--target-secret', 'accountKey=AZ_KEY'];
const cli = (args: string[]) => runCli(args, { env, timeoutMs: 240_000 });

it("a SIGKILLed run's temp file: kept while young, then listed by prune --leftovers --dry-run, removed by the cluster's next run (another cluster's by prune)", async () => {
  const child = spawnCli(['apply', path.join(ws.dir, 'recipes-hanging'), '-b', path.join(ws.dir, 'build'), '--cluster', 'c1', ...target(), '--json'], { env });
  // The post phase starts once the data is collected: the archive is in its temp file, uncommitted.
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('"phase":"post"') && resolve());
    void child.then((r) => reject(new Error(`apply ended before its post phase\n${String(r.stderr)}`)));
  });
  child.kill('SIGKILL');
  await child;
  const [own] = await tempFiles();
  expect(own, 'the killed run left its temp file').toMatch(/^\.lsbackup-tmp-[0-9a-f]{12}-lsbackup-c1-\d{8}T\d{6}Z\.tar\.gz$/);
  // The same left behind by another cluster's run into the same directory.
  const other = own!.replace('-lsbackup-c1-', '-lsbackup-c2-');
  await copyFile(path.join(shareDir(), own!), path.join(shareDir(), other));

  // Young: may be a run on another machine still writing. Nothing listed, nothing removed.
  const young = await cli(['prune', '--leftovers', '--dry-run', ...target()]);
  expect(young.exitCode, cliOutput(young)).toBe(0);
  expect(young.stdout).toBe('no leftovers of interrupted runs');
  // With a grace period of 0 hours they are listed (the option reaches the plugin), and kept (dry run).
  const zero = await cli(['prune', '--leftovers', '--dry-run', ...target(), '--target-option', 'staleUploadHours=0']);
  expect(zero.exitCode, cliOutput(zero)).toBe(0);
  expect(zero.stdout).toContain(`would remove leftover: ${own}`);
  expect(zero.stdout).toContain(`would remove leftover: ${other}`);
  expect(await tempFiles()).toEqual([own, other].sort());

  // A day and an hour later (default staleUploadHours: 24).
  const dayAgo = new Date(Date.now() - 25 * 3600_000);
  for (const name of [own!, other]) await utimes(path.join(shareDir(), name), dayAgo, dayAgo);
  const listed = await cli(['prune', '--leftovers', '--dry-run', ...target(), '--json']);
  expect(listed.exitCode, cliOutput(listed)).toBe(0);
  expect(jsonEvent(listed.stdout, 'prune.result')).toMatchObject({
    dryRun: true,
    keep: [],
    remove: [],
    leftovers: [own, other].sort().map((n) => expect.stringContaining(n)),
  });
  expect(await tempFiles()).toEqual([own, other].sort());

  // c1's next run removes c1's leftover and says so; c2's is not its to touch.
  const next = await cli(['apply', path.join(ws.dir, 'recipes'), '-b', path.join(ws.dir, 'build'), '--cluster', 'c1', ...target()]);
  expect(next.exitCode, cliOutput(next)).toBe(0);
  expect(next.stderr).toMatch(
    new RegExp(`removed 1 leftover\\(s\\) of interrupted runs: ${own!.replaceAll('.', '\\.')} \\(temp file of an interrupted upload`),
  );
  expect(await tempFiles()).toEqual([other]);

  const pruned = await cli(['prune', '--leftovers', ...target()]);
  expect(pruned.exitCode, cliOutput(pruned)).toBe(0);
  expect(pruned.stdout).toContain(`removed leftover: ${other}`);
  expect(await tempFiles()).toEqual([]);
  // The backup of the next run is whole and listed.
  const list = await cli(['list', ...target(), '--json']);
  expect(jsonEvents(list.stdout, 'list.backup')).toMatchObject([{ status: 'success' }]);
}, 600_000);

it("judges leftovers by the share's clock: from a machine two days ahead (a SAS token), a temp file written now is kept, one idle 25 h is removed", async () => {
  const offset = -48 * 3600_000; // the share's clock minus this machine's
  const skewed = await startAzureFileStandIn('skewed', { clockOffsetMs: offset });
  try {
    const shareNow = Date.now() + offset;
    // A SAS valid by the share's clock (a signed request from this machine would be refused: its date is two days off).
    const sas = generateAccountSASQueryParameters(
      {
        startsOn: new Date(shareNow - 3600_000),
        expiresOn: new Date(shareNow + 6 * 3600_000),
        permissions: AccountSASPermissions.parse('rwdlc'),
        services: AccountSASServices.parse('f').toString(),
        resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
      },
      new StorageSharedKeyCredential(skewed.account, skewed.accountKey),
    ).toString();
    const dir = path.join(skewed.dataDir, SHARE, DIR);
    await mkdir(dir, { recursive: true });
    const live = '.lsbackup-tmp-0123456789ab-lsbackup-c1-20261201T000000Z.tar.gz';
    const dead = '.lsbackup-tmp-ba9876543210-lsbackup-c1-20261130T000000Z.tar.gz';
    await writeFile(path.join(dir, live), 'being written by a run on another machine');
    await writeFile(path.join(dir, dead), 'left by a killed run');
    const idle = new Date(Date.now() - 25 * 3600_000);
    await utimes(path.join(dir, dead), idle, idle);
    const skewedTarget = ['-t', `azfile://${skewed.account}/${SHARE}/${DIR}`, '--target-option', `endpoint=${skewed.endpoint}`];

    const signed = await runCli(['list', ...skewedTarget, '--target-secret', 'accountKey=AZ_KEY'], { env: { AZ_KEY: skewed.accountKey } });
    expect(signed.exitCode, 'the stand-in refuses a signed request two days off, as Azure does').toBe(1);
    expect(signed.stderr).toMatch(/rejected \(AuthenticationFailed\)/);

    const pruned = await runCli(['prune', '--leftovers', ...skewedTarget, '--target-secret', 'sasToken=AZ_SAS'], { env: { AZ_SAS: sas } });
    expect(pruned.exitCode, cliOutput(pruned)).toBe(0);
    expect(pruned.stdout).toContain(`removed leftover: ${dead}`);
    expect(pruned.stdout).not.toContain(live);
    expect((await readdir(dir)).sort()).toEqual([live]);
  } finally {
    await skewed.stop();
  }
}, 300_000);
