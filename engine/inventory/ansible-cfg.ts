import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ansibleBoolean } from '../ansible-boolean.js';

export interface AnsibleCfg {
  /** [defaults] host_key_checking; ANSIBLE_HOST_KEY_CHECKING in the environment wins. */
  hostKeyChecking?: boolean;
}

/**
 * The settings lsbackup honours from the build directory's ansible.cfg: `<build>/ansible.cfg`, else
 * `<build>/ansible/ansible.cfg` (where LambdaStack writes it and points ANSIBLE_CONFIG at it).
 */
export async function readAnsibleCfg(baseDir: string, env: NodeJS.ProcessEnv = process.env): Promise<AnsibleCfg> {
  const cfg: AnsibleCfg = {};
  const text = (await readOptional(join(baseDir, 'ansible.cfg'))) || (await readOptional(join(baseDir, 'ansible', 'ansible.cfg')));
  const fromFile = iniSection(text, 'defaults').get('host_key_checking');
  const value = ansibleBoolean(env.ANSIBLE_HOST_KEY_CHECKING) ?? ansibleBoolean(fromFile);
  if (value !== undefined) cfg.hostKeyChecking = value;
  return cfg;
}

async function readOptional(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw e;
  }
}

/** key -> value of one section of a Python configparser file (`#`/`;` comments, `=` or `:`). */
function iniSection(text: string, wanted: string): Map<string, string> {
  const values = new Map<string, string>();
  let section = '';
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[([^\]]+)\]/.exec(line);
    if (header) section = header[1]!.trim();
    else if (section === wanted) {
      const m = /^([^=:]+)[=:](.*)$/.exec(line);
      // Ansible's parser allows inline `;` comments.
      if (m) values.set(m[1]!.trim().toLowerCase(), m[2]!.replace(/\s;.*$/, '').trim());
    }
  }
  return values;
}
