import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { isLsError } from '../../engine/errors.js';
import { loadInventory, readAnsibleCfg } from '../../engine/inventory/index.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const fixture = (...p: string[]) => join(fixtures, ...p);

async function loadError(path: string): Promise<string> {
  try {
    await loadInventory(path);
  } catch (e) {
    if (isLsError(e)) return e.message;
    throw e;
  }
  throw new Error(`expected ${path} to be rejected`);
}

describe('LambdaStack INI build directory', () => {
  it('finds build/inventory and reads groups, children and ranges', async () => {
    const inv = await loadInventory(fixture('lambdastack'));
    expect(inv.source).toBe(fixture('lambdastack', 'inventory'));
    expect(inv.baseDir).toBe(fixture('lambdastack'));
    expect([...inv.hosts.keys()]).toEqual([
      'ls-master-vm-0',
      'ls-node-vm-0',
      'ls-node-vm-1',
      'ls-node-vm-2',
      'ls-db-vm-0',
      'ls-db-vm-1',
      'ls-kafka-vm-0',
      'ls-lb-vm-0',
    ]);
    expect(inv.groups.get('kubernetes')!.hosts).toEqual(['ls-master-vm-0', 'ls-node-vm-0', 'ls-node-vm-1', 'ls-node-vm-2']);
    expect(inv.groups.get('kubernetes')!.children).toEqual(['kubernetes_master', 'kubernetes_node']);
    expect(inv.groups.get('zookeeper')!.hosts).toEqual(['ls-kafka-vm-0']);
    expect(inv.hosts.get('ls-node-vm-1')!.groups).toEqual(['kubernetes', 'kubernetes_node']);
    expect(inv.groups.get('ungrouped')!.hosts).toEqual([]);
  });

  it('derives ssh connection facts from [all:vars]', async () => {
    const inv = await loadInventory(fixture('lambdastack'));
    expect(inv.hosts.get('ls-lb-vm-0')!.connection).toEqual({
      kind: 'ssh',
      address: '10.1.1.50',
      port: 2200, // from the host:port pattern
      user: 'admin',
      privateKeyFile: fixture('lambdastack', 'keys', 'id_rsa'),
      sshArgs: ['-o', 'StrictHostKeyChecking=no', '-o', 'ServerAliveInterval=60', '-o', 'ServerAliveCountMax=1'],
    });
    // ansible_host with a colon is an address string, not a port (Ansible does the same).
    expect(inv.hosts.get('ls-db-vm-1')!.connection).toMatchObject({ address: '10.1.1.31:2222', port: 22 });
  });

  it('parses values like Ansible: Python literals, quoted strings, a hostile value kept byte for byte', async () => {
    const kafka = (await loadInventory(fixture('lambdastack'))).hosts.get('ls-kafka-vm-0')!.vars;
    expect(kafka.evil).toBe("'; rm -rf / #");
    expect(kafka.note).toBe('a b');
    expect(kafka.broker_count).toBe(3);
    expect(kafka.flag).toBe(false);
    const db = (await loadInventory(fixture('lambdastack'))).hosts.get('ls-db-vm-0')!.vars;
    expect(db.pg_ok).toBe(true);
    expect(db.pg_list).toEqual([1, 'two']);
  });

  it('applies group_vars and host_vars with Ansible precedence', async () => {
    const inv = await loadInventory(fixture('lambdastack'));
    const kafka = inv.hosts.get('ls-kafka-vm-0')!.vars;
    expect(kafka.kafka_level).toBe('from-group-vars-dir'); // group_vars/kafka/ beats [kafka:vars]
    expect(kafka.kafka_dir_order).toBe('second'); // files in a group_vars dir: later name wins
    expect(kafka.shared).toBe('all-file'); // any group_vars file beats any inventory group var
    expect(kafka.only_all_file).toBe(true); // YAML 1.1: yes is a boolean, as in PyYAML
    // …but y and n are strings to PyYAML (the yaml library's 1.1 schema made them booleans).
    expect([kafka.y, kafka.n, kafka.answers]).toEqual([1, 2, ['y', 'n', 'Y', 'N', true, false, true, false]]);
    expect(inv.hosts.get('ls-db-vm-0')!.vars.pg_port).toBe(6543); // host_vars/ beats inline host vars
    expect(inv.hosts.get('ls-node-vm-0')!.vars.role).toBe('worker'); // inline host var beats group_vars/
    expect(inv.groups.get('kafka')!.vars).toMatchObject({ kafka_level: 'from-group-vars-dir', broker_count: 3 });
  });
});

describe('YAML and ansible-inventory JSON', () => {
  it('reads nested children, ranges with ports and group priority', async () => {
    const inv = await loadInventory(fixture('yaml-cluster'));
    expect(inv.source).toBe(fixture('yaml-cluster', 'inventory.yml'));
    expect([...inv.hosts.keys()]).toEqual(['bastion', 'pg-1', 'pg-2', 'mq-a', 'mq-b', 'prom']);
    expect(inv.groups.get('databases')!.hosts).toEqual(['pg-1', 'pg-2', 'mq-a', 'mq-b']);
    expect(inv.groups.get('ungrouped')!.hosts).toEqual(['bastion']);
    expect(inv.hosts.get('mq-b')!.connection.port).toBe(2022);
    expect(inv.hosts.get('pg-1')!.vars.level).toBe('postgresql'); // deeper group wins
    expect(inv.hosts.get('prom')!.vars.level).toBe('monitoring'); // higher ansible_group_priority beats name order
    expect(inv.hosts.get('prom')!.vars.quoted).toBe("'; rm -rf / #");
    expect(inv.hosts.get('prom')!.vars.from_json_host_vars).toBe(true);
    expect(inv.hosts.get('bastion')!.connection.privateKeyFile).toBe(join(homedir(), '.ssh/cluster_key'));
  });

  it('reads `ansible-inventory --list --export` JSON to the same hosts and vars', async () => {
    const fromYaml = await loadInventory(fixture('yaml-cluster'));
    const fromJson = await loadInventory(fixture('list-json'));
    expect(fromJson.source).toBe(fixture('list-json'));
    expect(new Set(fromJson.hosts.keys())).toEqual(new Set(fromYaml.hosts.keys()));
    for (const [name, host] of fromYaml.hosts) {
      expect(fromJson.hosts.get(name)!.vars, name).toEqual(host.vars);
      expect(fromJson.hosts.get(name)!.groups, name).toEqual(host.groups);
    }
  });
});

describe('inventory directories', () => {
  it('merges every file of an inventory directory in name order, and build-dir group_vars win', async () => {
    const inv = await loadInventory(fixture('inventory-dir'));
    expect(inv.source).toBe(fixture('inventory-dir', 'inventory'));
    expect(inv.groups.get('web')!.hosts).toEqual(['web01', 'web02', 'web03']);
    expect(inv.hosts.get('web01')!.groups).toEqual(['cache', 'web']);
    expect(inv.hosts.get('web02')!.vars).toEqual({ http_port: 9090, from_build_dir: 'build', from_inventory_dir: true });
  });

  it('treats localhost as local and honours ansible_connection', async () => {
    const inv = await loadInventory(fixture('local', 'hosts'));
    expect(inv.hosts.get('localhost')!.connection.kind).toBe('local');
    expect(inv.hosts.get('127.0.0.1')!.connection.kind).toBe('local');
    expect(inv.hosts.get('ctl')!.connection).toMatchObject({ kind: 'local', address: '10.9.9.9' });
    expect(inv.hosts.get('remote')!.connection).toEqual({
      kind: 'ssh',
      address: 'remote',
      port: 2222,
      privateKeyFile: '/abs/key',
      sshArgs: ['-o', 'ProxyCommand=ssh -W %h:%p jump', '-o', 'Foo=bar'],
    });
  });
});

describe('errors', () => {
  let tmp: string | undefined;
  afterEach(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
    tmp = undefined;
  });

  it('ENOINVENTORY for a missing path or a directory without an inventory', async () => {
    await expect(loadInventory(fixture('does-not-exist'))).rejects.toMatchObject({ code: 'ENOINVENTORY' });
    tmp = await mkdtemp(join(tmpdir(), 'lsinv-'));
    await writeFile(join(tmp, 'notes.md'), 'nothing here');
    await expect(loadInventory(tmp)).rejects.toMatchObject({ code: 'ENOINVENTORY' });
  });

  it.each([
    ['bad-section.ini', [":4: Invalid section entry: '[web servers]'", ':7: Section [db:stuff] has unknown type: stuff']],
    [
      'bad-range.ini',
      [
        ":2: host range 'web[1:]' must specify an end value",
        ":3: host range 'node[05:3]'",
        ":4: host range 'db[01:100]'",
        // Reported, not expanded until memory runs out.
        ":5: host range 'huge[0:99999999999]' expands to more than 100000 hosts",
        ":6: host range 'grid[0:999][0:999]' expands to more than 100000 hosts",
      ],
    ],
    ['bad-yaml.yml', [':5:1: YAML syntax error']],
    ['cycle.ini', [":8: Group 'a' is its own ancestor: a -> b -> c -> a"]],
    ['bad-host-var.ini', [':2: Expected key=value host variable assignment, got: oops', ':3: Error parsing host definition']],
    ['vars-for-undefined.ini', [":4: Section [wbe:vars] is for group 'wbe', which is not defined anywhere"]],
  ])('%s is rejected with every problem at file:line', async (name, expected) => {
    const message = await loadError(fixture('malformed', name));
    for (const part of expected) expect(message).toContain(fixture('malformed', name) + part);
  });

  it('reports a malformed group_vars file with its position', async () => {
    tmp = await mkdtemp(join(tmpdir(), 'lsinv-'));
    await cp(fixture('lambdastack'), tmp, { recursive: true });
    await writeFile(join(tmp, 'group_vars', 'postgresql.yml'), 'a: 1\n- b\n');
    expect(await loadError(tmp)).toContain(join(tmp, 'group_vars', 'postgresql.yml') + ':2:1: YAML syntax error');
  });

  it('a vars file encrypted with ansible-vault is reported as such at file:1:1, with how to fix it', async () => {
    tmp = await mkdtemp(join(tmpdir(), 'lsinv-'));
    await cp(fixture('lambdastack'), tmp, { recursive: true });
    const vault = join(tmp, 'group_vars', 'kafka', 'vault.yml');
    await writeFile(vault, '$ANSIBLE_VAULT;1.1;AES256\n62313365396662343061393464336163383764373764613633653634306231386433626436623361\n');
    const message = await loadError(tmp);
    expect(message).toContain(`${vault}:1:1: this file is encrypted with ansible-vault, which lsbackup does not decrypt`);
    expect(message).toContain(`ansible-vault decrypt ${vault}`);
    expect(message).not.toContain('must be a mapping');
  });

  it('rejects connection plugins lsbackup cannot drive', async () => {
    tmp = await mkdtemp(join(tmpdir(), 'lsinv-'));
    await writeFile(join(tmp, 'hosts'), 'win1 ansible_connection=winrm\n');
    expect(await loadError(tmp)).toContain(`${join(tmp, 'hosts')}:1:6: host 'win1' has ansible_connection=winrm`);
  });

  it('an unusable connection value is reported where the value that applies is set: inventory line, group_vars or host_vars file', async () => {
    tmp = await mkdtemp(join(tmpdir(), 'lsinv-'));
    await cp(fixture('lambdastack'), tmp, { recursive: true });
    const problem = async (file: string, text: string) => {
      await writeFile(join(tmp!, file), text);
      const message = await loadError(tmp!);
      await rm(join(tmp!, file));
      return message;
    };
    // A host var in the INI inventory, at its key=value.
    const inventory = join(tmp, 'inventory');
    const original = await readFile(inventory, 'utf8');
    await writeFile(inventory, original.replace('ls-db-vm-0 ', 'ls-db-vm-0 ansible_port=5x22 '));
    const line = (await readFile(inventory, 'utf8')).split('\n').findIndex((l) => l.includes('ansible_port=5x22'));
    const col = (await readFile(inventory, 'utf8')).split('\n')[line]!.indexOf('ansible_port=') + 1;
    expect(await loadError(tmp)).toContain(`${inventory}:${line + 1}:${col}: ansible_port '5x22' is not a TCP port (1-65535)`);
    await writeFile(inventory, original);
    // group_vars and host_vars files: at the key.
    expect(await problem('group_vars/postgresql.yml', 'a: 1\nansible_port: abc\n')).toContain(
      `${join(tmp, 'group_vars', 'postgresql.yml')}:2:1: ansible_port 'abc' is not a TCP port`,
    );
    expect(await problem('host_vars/ls-db-vm-1.yml', 'a: 1\nb: 2\nansible_ssh_common_args: "-o \'x"\n')).toContain(
      `${join(tmp, 'host_vars', 'ls-db-vm-1.yml')}:3:1: ansible_ssh_common_args: No closing quotation`,
    );
  });
});

describe('digest', () => {
  let tmp: string | undefined;
  afterEach(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('is the same for the same inventory wherever it lives, and changes with any vars file', async () => {
    tmp = await mkdtemp(join(tmpdir(), 'lsinv-'));
    await cp(fixture('lambdastack'), tmp, { recursive: true });
    const original = await loadInventory(fixture('lambdastack'));
    expect(original.digest).toMatch(/^[0-9a-f]{64}$/);
    expect((await loadInventory(tmp)).digest).toBe(original.digest);
    await writeFile(join(tmp, 'host_vars', 'ls-db-vm-0.yml'), 'pg_port: 6544\n');
    expect((await loadInventory(tmp)).digest).not.toBe(original.digest);
  });
});

describe('readAnsibleCfg', () => {
  it('reads host_key_checking from ansible.cfg; ANSIBLE_HOST_KEY_CHECKING overrides it', async () => {
    expect(await readAnsibleCfg(fixture('lambdastack'), {})).toEqual({ hostKeyChecking: false });
    expect(await readAnsibleCfg(fixture('lambdastack'), { ANSIBLE_HOST_KEY_CHECKING: 'True' })).toEqual({ hostKeyChecking: true });
    expect(await readAnsibleCfg(fixture('yaml-cluster'), {})).toEqual({});
    expect(await readAnsibleCfg(fixture('yaml-cluster'), { ANSIBLE_HOST_KEY_CHECKING: 'no' })).toEqual({ hostKeyChecking: false });
  });
});
