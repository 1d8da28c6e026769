/**
 * A secret whose value also occurs in a host name or a file name (issue 12 item 3): masking is
 * for what is printed, never for the data written. The archive's metadata.json and its sidecar
 * keep the true names, so verify and restore accept the backup; logs stay masked. A secret
 * used to make an entry name is refused by the recipe check.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { cliOutput, localCluster, type LocalCluster } from './support.js';

let c: LocalCluster;
beforeEach(async () => {
  c = await localCluster();
  await c.write('data/conf/fine.conf', 'fine content\n');
});
afterEach(async () => c.cleanup());

it('keeps true names in metadata when a secret value occurs in them; logs stay masked', async () => {
  await c.recipe(
    'app',
    `hosts: { group: app }
backup:
  snapshot:
    - run: test -n {{secret "ADV_SECRET"}} && echo dump
      output: fine.txt
  collect:
    - path: ${c.data}/conf
restore:
  apply:
    - run: cat > ${c.data}/restored.txt
      input: fine.txt
    - files: ${c.data}/conf
`,
  );
  // 'fine' is in an output name and a file name; 'localhost' is the host name.
  for (const secret of ['fine', 'localhost']) {
    await rm(c.target, { recursive: true, force: true });
    const env = { ADV_SECRET: secret };
    const apply = await c.apply(['--json'], env);
    expect(apply.exitCode, cliOutput(apply)).toBe(0);
    expect(apply.stdout + apply.stderr).not.toContain(secret);
    const archive = await c.archive();
    const sidecar = await c.sidecar(archive);
    expect(sidecar.entries.map((e) => e.path)).toContain('app/localhost/fine.txt');
    expect(sidecar.entries.map((e) => e.path)).toContain(`app/localhost/files${c.data}/conf/fine.conf`);
    expect(sidecar.hosts.map((h) => h.name)).toEqual(['localhost']);

    const verify = await c.verify(archive, env);
    expect(verify.exitCode, cliOutput(verify)).toBe(0);
    await rm(path.join(c.data, 'conf'), { recursive: true });
    const restore = await c.restore(archive, [], env);
    expect(restore.exitCode, cliOutput(restore)).toBe(0);
    expect(await readFile(path.join(c.data, 'conf/fine.conf'), 'utf8')).toBe('fine content\n');
    expect(await readFile(path.join(c.data, 'restored.txt'), 'utf8')).toBe('dump\n');
  }
});

it('refuses a secret in an output name or a collect path before running anything', async () => {
  await c.recipe(
    'app',
    `hosts: { group: app }
backup:
  snapshot:
    - run: echo dump
      output: 'dump-{{secret "ADV_SECRET"}}.txt'
  collect:
    - path: '${c.data}/{{secret "ADV_SECRET"}}'
`,
  );
  const r = await c.apply([], { ADV_SECRET: 'conf' });
  expect(r.exitCode, cliOutput(r)).toBe(78);
  expect(r.stderr).toMatch(/app\.yaml:\d+:\d+: a secret cannot be used in 'output'/);
  expect(r.stderr).toMatch(/app\.yaml:\d+:\d+: a secret cannot be used in 'path'/);
  expect(await readdir(c.target).catch(() => [])).toEqual([]);
});
