import { createHash } from 'node:crypto';
import { readCapped } from '../input-limits.js';
import { relative } from 'node:path';
import { invalid, type Problem } from '../errors.js';
import { locateInventory } from './locate.js';
import { isListJson, readListJson } from './parse-list-json.js';
import { parseIni } from './parse-ini.js';
import { parseYamlInventory, readYamlInventory } from './parse-yaml.js';
import { RawInventory } from './raw.js';
import { resolveInventory } from './resolve.js';
import type { Inventory } from './types.js';
import { loadVarsFiles, type FileText } from './vars-files.js';
import { readYaml } from './yaml-file.js';

export { readAnsibleCfg, type AnsibleCfg } from './ansible-cfg.js';
export type { Group, Host, HostConnection, Inventory, Vars } from './types.js';

/**
 * Reads an Ansible inventory: a build directory (its `inventory` file or directory, or
 * hosts / hosts.ini / inventory.ini / inventory.y(a)ml / *.inventory), an inventory file,
 * or a directory of inventory files (merged in name order). INI, YAML and
 * `ansible-inventory --list` JSON are told apart by content. group_vars/ and host_vars/
 * next to the inventory and in the build directory are applied with Ansible's precedence.
 * Throws LsError ENOINVENTORY when nothing is found, EINVALID listing every problem with file:line.
 */
export async function loadInventory(path: string): Promise<Inventory> {
  const location = await locateInventory(path);
  const raw = new RawInventory();
  const read: FileText[] = [];
  for (const file of location.files) {
    const capped = await readCapped(file, 'inventory');
    if (capped.problem) throw invalid('Inventory', [capped.problem]);
    const text = capped.bytes.toString('utf8');
    read.push({ path: file, text });
    parseInventoryText(text, file, raw);
  }

  // Ansible reads vars next to the inventory, then next to the playbook (here: the build dir), later winning.
  const varsDirs = [...new Set([location.baseDir, location.buildDir])];
  const problems: Problem[] = raw.problems;
  const groupFiles = await loadVarsFiles(
    varsDirs.map((d) => `${d}/group_vars`),
    ['all', 'ungrouped', ...raw.groups.keys()],
    problems,
  );
  const hostFiles = await loadVarsFiles(
    varsDirs.map((d) => `${d}/host_vars`),
    raw.hostVars.keys(),
    problems,
  );
  if (problems.length > 0) throw invalid('Inventory', problems);

  const { hosts, groups } = resolveInventory(
    raw,
    { groups: groupFiles.vars, hosts: hostFiles.vars, groupSites: groupFiles.sites, hostSites: hostFiles.sites },
    location.baseDir,
    location.source,
    problems,
  );
  if (problems.length > 0) throw invalid('Inventory', problems);

  return {
    source: location.source,
    baseDir: location.baseDir,
    hosts,
    groups,
    digest: digestOf([...read, ...groupFiles.files, ...hostFiles.files], location.buildDir),
  };
}

/** Picks the parser by content, as Ansible tries its inventory plugins in turn. */
export function parseInventoryText(text: string, file: string, raw: RawInventory): void {
  const firstLine =
    text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .find((l) => l && !l.startsWith('#') && !l.startsWith(';')) ?? '';
  if (firstLine.startsWith('{')) {
    const yaml = readYaml(text, file, raw.problems);
    if (yaml && isListJson(yaml.doc.contents)) return readListJson(yaml, yaml.doc.contents, raw);
    if (yaml) readYamlInventory(yaml, raw);
    return;
  }
  // A YAML inventory starts with a document marker or a `key:` mapping entry; an INI host
  // line `web1:2222` has no space after the colon and `[group]` is a section.
  if (firstLine === '---' || /^[^\s[=]+:(\s|$)/.test(firstLine)) return parseYamlInventory(text, file, raw);
  parseIni(text, file, raw);
}

/** sha256 over (relative path, content) of every file read, sorted by path: same inventory, same digest. */
function digestOf(files: FileText[], root: string): string {
  const hash = createHash('sha256');
  const entries = files.map((f) => ({ rel: relative(root, f.path), text: f.text })).sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  for (const { rel, text } of entries) hash.update(rel).update('\0').update(text).update('\0');
  return hash.digest('hex');
}
