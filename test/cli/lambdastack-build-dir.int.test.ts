/**
 * A build dir as LambdaStack's lscli writes it (cli/helpers/build_io.py, ansible/inventory.j2):
 * `<build>/inventory` naming the key by its path INSIDE the lscli container
 * (`/shared/build/<cluster>/keys/ssh/<key>`), the key itself in `<build>/keys/ssh/`, and
 * `<build>/ansible/ansible.cfg`. `lsbackup -b <build>` must log in with no edits to any of it.
 * Real sshd hosts (test/fleet).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startFleet, SUDO_USER, type Fleet } from '../fleet/fleet.js';
import { cliOutput, recipeYaml, runCli } from '../helpers/cli.js';

let fleet: Fleet;
let dir: string;

beforeAll(async () => {
  fleet = await startFleet({ hosts: 2 });
  dir = await mkdtemp(path.join(os.tmpdir(), 'lsb-lsbuild-'));
}, 120_000);
afterAll(async () => {
  await fleet?.stop();
  await rm(dir, { recursive: true, force: true });
});

function writeBuildDir(cluster: string): string {
  const build = path.join(dir, 'build', cluster);
  mkdirSync(path.join(build, 'keys', 'ssh'), { recursive: true });
  mkdirSync(path.join(build, 'ansible'), { recursive: true });
  copyFileSync(fleet.clientKey, path.join(build, 'keys', 'ssh', 'lambdastack-operations'));
  const hosts = fleet.hosts.map((h, i) => `${cluster}-vm-${i} ansible_host=${h.address} ansible_port=${h.port}`);
  writeFileSync(
    path.join(build, 'inventory'),
    [
      '#',
      '# Ansible Inventory File - Automated so do not modify',
      '#',
      '',
      '[postgresql]',
      ...hosts,
      '',
      '[all:vars]',
      `ansible_user=${SUDO_USER}`,
      `ansible_ssh_private_key_file=/shared/build/${cluster}/keys/ssh/lambdastack-operations`,
      "ansible_ssh_common_args='-o StrictHostKeyChecking=no'",
      "ansible_ssh_extra_args='-o ServerAliveInterval=60 -o ServerAliveCountMax=1'",
      '',
    ].join('\n'),
  );
  // LambdaStack's ansible.cfg lives in ansible/; host key checking off as StrictHostKeyChecking=no says.
  writeFileSync(path.join(build, 'ansible', 'ansible.cfg'), '[defaults]\ninterpreter_python = auto_legacy_silent\nhost_key_checking = False\n');
  return build;
}

it('logs in with the key the inventory names by its path inside the lscli container, saying which file it used', async () => {
  const build = writeBuildDir('lscluster');
  const recipes = path.join(dir, 'recipes');
  mkdirSync(recipes, { recursive: true });
  writeFileSync(
    path.join(recipes, 'who.yaml'),
    recipeYaml('who', 'hosts: { group: postgresql, run: all }\nbackup:\n  snapshot:\n    - run: id -un\n      output: who.txt\n'),
  );
  const home = path.join(dir, 'home');
  mkdirSync(path.join(home, '.ssh'), { recursive: true });
  const r = await runCli(['apply', recipes, '-b', build, '-t', path.join(dir, 'out')], { env: { HOME: home, SSH_AUTH_SOCK: '' } });
  expect(r.exitCode, cliOutput(r)).toBe(0);
  expect(r.stderr).toContain(
    `ssh key /shared/build/lscluster/keys/ssh/lambdastack-operations (as the inventory names it) is not on this machine; using the same file in the build dir: ${build}/keys/ssh/lambdastack-operations`,
  );
  expect(r.stderr.split('is not on this machine').length - 1, 'said once, not per host').toBe(1);
});

it('a key found neither where the inventory says nor in the build dir fails the hosts naming the key, not an unexpected error', async () => {
  const build = writeBuildDir('other');
  const recipes = path.join(dir, 'recipes');
  await rm(path.join(build, 'keys'), { recursive: true, force: true });
  const home = path.join(dir, 'home');
  const r = await runCli(['apply', recipes, '-b', build, '-t', path.join(dir, 'out2')], { env: { HOME: home, SSH_AUTH_SOCK: '' } });
  expect(r.exitCode, cliOutput(r)).not.toBe(0);
  expect(r.stdout + r.stderr).toContain('cannot read private key file /shared/build/other/keys/ssh/lambdastack-operations: ENOENT');
  expect(r.stdout + r.stderr).not.toMatch(/unexpected error/);
});
