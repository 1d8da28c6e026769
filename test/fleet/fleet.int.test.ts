import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startFleet, type Fleet } from './fleet.js';

// The fleet is shared infrastructure: prove with OpenSSH's own client that it behaves as documented.
describe('test fleet', () => {
  let fleet: Fleet;
  beforeAll(async () => {
    fleet = await startFleet({ hosts: 2, bastion: true });
  });
  afterAll(async () => fleet?.stop());

  const ssh = (user: string, i: number, cmd: string) =>
    execFileSync(
      'ssh',
      [
        '-i',
        fleet.clientKey,
        '-o',
        `UserKnownHostsFile=${fleet.knownHosts}`,
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        'BatchMode=yes',
        '-p',
        String(fleet.hosts[i]!.port),
        `${user}@${fleet.hosts[i]!.address}`,
        cmd,
      ],
      { encoding: 'utf8' },
    );

  it('lets lsbtest log in with the client key and use sudo, and refuses sudo to lsbnosudo', () => {
    expect(ssh(fleet.sudoUser, 0, 'sudo -n id -u').trim()).toBe('0');
    expect(ssh(fleet.noSudoUser, 1, 'id -un').trim()).toBe('lsbnosudo');
    expect(() => ssh(fleet.noSudoUser, 1, 'sudo -n true')).toThrow();
  });

  it('writes an INI inventory with each host address, port, user and key', () => {
    const file = fleet.writeInventory(fleet.dir + '/build', { host1: ['postgresql'], host2: ['postgresql', 'haproxy'] });
    const text = readFileSync(file, 'utf8');
    expect(text).toContain(`[haproxy]\nhost2 ansible_host=${fleet.hosts[1]!.address} ansible_port=${fleet.hosts[1]!.port}`);
    expect(text).toContain(`ansible_ssh_private_key_file=${fleet.clientKey}`);
  });

  it('stops every sshd it started', async () => {
    const pids = [...fleet.hosts, fleet.bastion!].map((h) => h.pid);
    await fleet.stop();
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  });
});
