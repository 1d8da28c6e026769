import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireCommand } from '../helpers/prerequisites.js';
import { loadInventory } from '../../engine/inventory/index.js';

/**
 * Proves we parse like Ansible: the real `ansible-inventory --list` (Debian's ansible-core,
 * test/infra/apt-packages.txt) must agree with loadInventory on every host's merged vars
 * and groups. Skipped only when ansible-inventory is not installed.
 */
const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));

interface ListOutput {
  _meta: { hostvars: Record<string, Record<string, unknown>> };
  [group: string]: { hosts?: string[]; children?: string[] } | ListOutput['_meta'];
}

describe('parity with ansible-inventory --list', () => {
  let home: string;
  beforeAll(async () => {
    requireCommand('ansible-inventory', 'ansible-core');
    home = await mkdtemp(join(tmpdir(), 'lsinv-ansible-'));
  });
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  /** The build dir plays the role of Ansible's playbook dir, so its group_vars/ host_vars/ count. */
  function ansibleList(buildDir: string, inventory: string): ListOutput {
    const out = execFileSync('ansible-inventory', ['-i', inventory, '--list', '--playbook-dir', buildDir], {
      cwd: home,
      // A private HOME/temp so ansible writes nothing of ours; cwd is empty so no ansible.cfg is picked up.
      env: { PATH: process.env.PATH, HOME: home, ANSIBLE_LOCAL_TEMP: home, LC_ALL: 'C.UTF-8' },
      encoding: 'utf8',
    });
    return JSON.parse(out) as ListOutput;
  }

  /** Hosts a group holds directly or through children, per ansible-inventory's output. */
  function hostsOf(list: ListOutput, group: string): Set<string> {
    const g = list[group] as { hosts?: string[]; children?: string[] } | undefined;
    return new Set([...(g?.hosts ?? []), ...(g?.children ?? []).flatMap((c) => [...hostsOf(list, c)])]);
  }

  it.each([
    ['lambdastack', 'inventory'],
    ['yaml-cluster', 'inventory.yml'],
    ['inventory-dir', 'inventory'],
    ['list-json', 'inventory.json'],
  ])('%s', async (dir, file) => {
    const buildDir = join(fixtures, dir);
    // ansible-inventory reads *.json with its YAML plugin (wrongly for --list output), so compare that one to its source.
    const ansible =
      dir === 'list-json'
        ? ansibleList(join(fixtures, 'yaml-cluster'), join(fixtures, 'yaml-cluster', 'inventory.yml'))
        : ansibleList(buildDir, join(buildDir, file));
    const ours = await loadInventory(buildDir);

    expect([...ours.hosts.keys()].sort()).toEqual(Object.keys(ansible._meta.hostvars).sort());
    for (const [name, host] of ours.hosts) expect(host.vars, name).toEqual(ansible._meta.hostvars[name]);
    for (const [name, group] of ours.groups) {
      if (name === 'all') continue;
      expect(new Set(group.hosts), name).toEqual(hostsOf(ansible, name));
    }
  });
});
