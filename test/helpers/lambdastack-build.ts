/**
 * Writes a build directory as LambdaStack's `lscli apply` leaves it (LambdaStack 1.3):
 * `inventory` rendered like its ansible/inventory.j2 (groups named by role, `<name>
 * ansible_host=<ip>`, the admin user and a key path INSIDE the lscli container under [all:vars]),
 * `ansible/ansible.cfg` like its ansible.cfg.j2, `manifest.yml` (test/fixtures/lambdastack, the
 * configuration documents of its schema defaults) and the key pair under `keys/ssh/`.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './cli.js';

export interface LambdaStackHost {
  name: string;
  ip: string;
}

export interface LambdaStackBuild {
  /** <parent>/<cluster>, as lscli names it. */
  dir: string;
  /** The key path the inventory names (does not exist on this machine). */
  containerKeyPath: string;
}

export const LAMBDASTACK_MANIFEST = path.join(repoRoot, 'test/fixtures/lambdastack/manifest.yml');

export function writeLambdaStackBuild(
  parent: string,
  options: {
    cluster: string;
    groups: Record<string, LambdaStackHost[]>;
    adminUser?: string;
    /** Use this existing private key (copied with its .pub); otherwise a new ed25519 key is made. */
    privateKey?: string;
    /** Extra lines for [all:vars] (tests point ports and the like at their servers). */
    allVars?: string[];
    /** Changes the manifest text (e.g. a port) before it is written. */
    editManifest?: (text: string) => string;
  },
): LambdaStackBuild {
  const dir = path.join(parent, options.cluster);
  const keyName = 'lambdastack-operations';
  const keyDir = path.join(dir, 'keys', 'ssh');
  mkdirSync(keyDir, { recursive: true });
  mkdirSync(path.join(dir, 'ansible'), { recursive: true });
  const keyFile = path.join(keyDir, keyName);
  if (options.privateKey) {
    copyFileSync(options.privateKey, keyFile);
    copyFileSync(`${options.privateKey}.pub`, `${keyFile}.pub`);
  } else {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'operations', '-f', keyFile]);
  }
  const containerKeyPath = `/shared/build/${options.cluster}/keys/ssh/${keyName}`;
  const groups = Object.entries(options.groups)
    .map(([role, hosts]) => `[${role}]\n${hosts.map((h) => `${h.name} ansible_host=${h.ip}`).join('\n')}\n`)
    .join('\n');
  writeFileSync(
    path.join(dir, 'inventory'),
    `#\n# Ansible Inventory File - Automated so do not modify\n#\n\n${groups}\n` +
      `# Allowing 'all' since for now only Linux is supported\n[all:vars]\n` +
      `ansible_user=${options.adminUser ?? 'operations'}\n` +
      `ansible_ssh_private_key_file=${containerKeyPath}\n` +
      `# --- SSH options ---\nansible_ssh_common_args='-o StrictHostKeyChecking=no'\n` +
      `# Always appended to the default ssh command line\n` +
      `ansible_ssh_extra_args='-o ServerAliveInterval=60 -o ServerAliveCountMax=1'\n` +
      (options.allVars ?? []).map((l) => `${l}\n`).join(''),
  );
  writeFileSync(
    path.join(dir, 'ansible', 'ansible.cfg'),
    '#\n# Ansible configuration file - automated so do not modify\n#\n\n[defaults]\n' +
      'interpreter_python = auto_legacy_silent\nallow_world_readable_tmpfiles = true\n',
  );
  const manifest = readFileSync(LAMBDASTACK_MANIFEST, 'utf8')
    .replaceAll('/shared/build/prod/', `/shared/build/${options.cluster}/`)
    .replace(/^  name: prod$/m, `  name: ${options.cluster}`);
  writeFileSync(path.join(dir, 'manifest.yml'), options.editManifest ? options.editManifest(manifest) : manifest);
  return { dir, containerKeyPath };
}

/** The lines of a `plan` between `<component> (recipe` and the next component; undefined when not listed. */
export function planSection(planStdout: string, component: string): string | undefined {
  const start = planStdout.indexOf(`\n${component} (recipe `);
  if (start < 0) return undefined;
  const next = planStdout.slice(start + 1).search(/\n[a-z][a-z0-9-]* \(recipe /);
  return next < 0 ? planStdout.slice(start) : planStdout.slice(start, start + 1 + next);
}
