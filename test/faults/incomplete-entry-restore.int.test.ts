/**
 * A collect step whose stream from the host was cut mid-file, in a recipe that goes on
 * (`onError: continue`): the host's backup is a success, and the cut file is stored zero-filled
 * and recorded incomplete (verify says so). Through the BUILT CLI on the local host, whose tar
 * is a wrapper that cuts `tar --create` output after 40,000 bytes (a stand-in for a host or
 * link that died; extract is the real tar).
 *
 * Was: the restore's `files:` step handed the incomplete entry to the host — staged, it failed
 * with the host tar's `This does not look like a tar archive` (the real reason lost); `--stream`
 * wrote the zero-filled file over the host's and said success. Now both fail the step naming
 * the file, before writing anything.
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliOutput, runCli } from '../helpers/cli.js';
import { createCluster, type Cluster } from '../helpers/cluster.js';

const RECIPE = `hosts: { group: app }
vars: { data: /nonexistent }
backup:
  collect:
    - path: "{{vars.data}}/tree"
      onError: continue
restore:
  apply:
    - files: "{{vars.data}}/tree"
`;

let cluster: Cluster;
let big: string;
let archive: string;

beforeAll(async () => {
  cluster = await createCluster({ local: ['app'] });
  const realTar = execFileSync('sh', ['-c', 'command -v tar'], { encoding: 'utf8' }).trim();
  const bin = path.join(cluster.dir, 'bin');
  await mkdir(bin);
  await writeFile(path.join(bin, 'tar'), `#!/bin/sh\ncase "$1" in --create) ${realTar} "$@" | head -c 40000; exit 0 ;; *) exec ${realTar} "$@" ;; esac\n`);
  await chmod(path.join(bin, 'tar'), 0o755);
  // Every CLI run of the cluster (its env object) finds the wrapper first.
  cluster.env.PATH = `${bin}:${process.env.PATH}`;
  const data = cluster.dataDir('localhost');
  big = path.join(data, 'tree', 'big.bin');
  await mkdir(path.dirname(big), { recursive: true });
  await writeFile(big, randomBytes(256 * 1024));
  await cluster.hostVars('localhost', { data });
  await cluster.writeRecipe('app', RECIPE);

  const run = await cluster.apply(cluster.recipes);
  expect(run.exitCode, cliOutput(run)).toBe(0);
  const record = run.metadata!.entries.find((e) => e.path.endsWith('/tree/big.bin'));
  expect(record?.error, 'the cut file is recorded incomplete').toBeDefined();
  expect(run.metadata!.components[0]!.hosts[0]!.status).toBe('success');
  archive = run.archive!;
}, 120_000);

afterAll(async () => {
  await cluster?.cleanup();
});

describe('a file stored incomplete by a collect step that continued', () => {
  it.each([[[]], [['--stream']]])('restore %j fails the files step naming it and leaves the host file alone', async (extra: string[]) => {
    await writeFile(big, 'the host file as it is now\n');
    const r = await cluster.restore(archive, extra);
    expect(r.exitCode, cliOutput(r)).toBe(1);
    expect(r.stdout + r.stderr).toContain(`'${big}' was stored incomplete`);
    expect(await readFile(big, 'utf8')).toBe('the host file as it is now\n');
    const verify = await runCli(['verify', archive], { env: cluster.env });
    expect(verify.exitCode).toBe(1);
  });
});
