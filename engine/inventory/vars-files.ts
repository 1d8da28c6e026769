import { readdir } from 'node:fs/promises';
import { readCapped } from '../input-limits.js';
import { extname, join } from 'node:path';
import { isMap, type Node, type Pair } from 'yaml';
import type { Problem } from '../errors.js';
import { kindOf } from './locate.js';
import type { VarSites } from './raw.js';
import type { Vars } from './types.js';
import { readYaml } from './yaml-file.js';

/**
 * group_vars/ and host_vars/ files, found the way Ansible's host_group_vars plugin finds them:
 * for entity NAME the first of `NAME`, `NAME.yml`, `NAME.yaml`, `NAME.json` that exists;
 * a directory `NAME/` contributes all its vars files, sorted, later files overriding earlier.
 */
const EXTENSIONS = ['', '.yml', '.yaml', '.json'];

export interface FileText {
  path: string;
  text: string;
}

export interface LoadedVars {
  /** Entity name -> merged vars from all its files (later directories override earlier). */
  vars: Map<string, Vars>;
  /** Entity name -> where each of its vars is set (the file that wins). */
  sites: Map<string, VarSites>;
  /** Every file read, for the inventory digest. */
  files: FileText[];
}

export async function loadVarsFiles(dirs: string[], names: Iterable<string>, problems: Problem[]): Promise<LoadedVars> {
  const result: LoadedVars = { vars: new Map(), sites: new Map(), files: [] };
  for (const name of new Set(names)) {
    if (name.includes('/') || name.startsWith('.')) continue; // not a safe file name; Ansible would not find it either
    for (const dir of dirs) {
      for (const path of await filesFor(dir, name)) {
        const capped = await readCapped(path, 'inventory');
        if (capped.problem) {
          problems.push(capped.problem);
          continue;
        }
        const text = capped.bytes.toString('utf8');
        result.files.push({ path, text });
        const parsed = parseVarsFile(text, path, problems);
        if (parsed) {
          result.vars.set(name, { ...result.vars.get(name), ...parsed.vars });
          result.sites.set(name, new Map([...(result.sites.get(name) ?? []), ...parsed.sites]));
        }
      }
    }
  }
  return result;
}

async function filesFor(dir: string, name: string): Promise<string[]> {
  for (const ext of EXTENSIONS) {
    const path = join(dir, name + ext);
    const kind = await kindOf(path);
    if (kind === 'file') return [path];
    if (kind === 'dir') return filesUnder(path);
  }
  return [];
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(dir)).sort()) {
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    const ext = extname(name);
    const kind = await kindOf(path);
    if (kind === 'dir' && !ext) out.push(...(await filesUnder(path)));
    else if (kind === 'file' && EXTENSIONS.includes(ext)) out.push(path);
  }
  return out;
}

function parseVarsFile(text: string, path: string, problems: Problem[]): { vars: Vars; sites: VarSites } | undefined {
  const yaml = readYaml(text, path, problems);
  if (!yaml) return undefined;
  const root = yaml.doc.contents;
  if (root == null) return { vars: {}, sites: new Map() };
  if (!isMap(root)) {
    const value = root.toJS(yaml.doc);
    if (value == null) return { vars: {}, sites: new Map() };
    problems.push({ ...yaml.at(root), message: 'A vars file must be a mapping of variable names to values' });
    return undefined;
  }
  const sites: VarSites = new Map((root.items as Pair<Node, Node>[]).map((p) => [String(p.key?.toJS(yaml.doc)), yaml.at(p.key)]));
  return { vars: root.toJS(yaml.doc) as Vars, sites };
}
