import { isMap, isScalar, type Node, type Pair } from 'yaml';
import { expandHostPattern } from './host-pattern.js';
import type { RawInventory } from './raw.js';
import type { Vars } from './types.js';
import { readYaml, type YamlFile } from './yaml-file.js';

/**
 * Ansible's YAML inventory (ansible/plugins/inventory/yaml.py): top-level keys are groups,
 * each a mapping of `hosts`, `vars` and `children` (children are groups again).
 * Unlike Ansible, which warns and skips, an unknown key in a group is a problem: a typo
 * such as `host:` would otherwise silently drop hosts from the backup.
 */
export function parseYamlInventory(text: string, file: string, raw: RawInventory): void {
  const yaml = readYaml(text, file, raw.problems);
  if (yaml) readYamlInventory(yaml, raw);
}

export function readYamlInventory(yaml: YamlFile, raw: RawInventory): void {
  const root = yaml.doc.contents;
  if (isEmpty(root)) return;
  if (!isMap(root)) return raw.problem(yaml.at(root), 'An inventory in YAML must be a mapping of group names (e.g. all:)');
  new YamlInventoryReader(yaml, raw).groups(root.items as Pair<Node, Node>[]);
}

class YamlInventoryReader {
  constructor(
    private readonly yaml: YamlFile,
    private readonly raw: RawInventory,
  ) {}

  groups(pairs: Pair<Node, Node>[], parent?: string): void {
    for (const pair of pairs) {
      const name = this.text(pair.key);
      this.group(name, pair.value);
      if (parent !== undefined) this.raw.addChild(parent, name, this.yaml.at(pair.key));
    }
  }

  private group(name: string, node: Node | null): void {
    this.raw.group(name);
    if (isEmpty(node)) return;
    if (!isMap(node)) return this.raw.problem(this.yaml.at(node), `Group '${name}' must be a mapping with hosts, vars and/or children`);
    for (const pair of node.items as Pair<Node, Node>[]) {
      const key = this.text(pair.key);
      const value = pair.value;
      if (!['hosts', 'vars', 'children'].includes(key)) {
        this.raw.problem(this.yaml.at(pair.key), `Unexpected key '${key}' in group '${name}'`, 'a group holds only hosts, vars and children');
        continue;
      }
      if (isEmpty(value)) continue;
      // Ansible accepts a single name as a string: `hosts: web1`.
      const entries: Pair<Node, Node | null>[] | undefined = isScalar(value)
        ? [{ key: value, value: null } as unknown as Pair<Node, Node | null>]
        : isMap(value)
          ? (value.items as Pair<Node, Node>[])
          : undefined;
      if (!entries) {
        this.raw.problem(this.yaml.at(value), `'${key}' of group '${name}' must be a mapping`);
        continue;
      }
      if (key === 'vars') for (const e of entries) this.raw.setGroupVar(name, this.text(e.key), this.js(e.value), this.yaml.at(e.key));
      else if (key === 'children') this.groups(entries as Pair<Node, Node>[], name);
      else for (const e of entries) this.host(e, name);
    }
  }

  private host(entry: Pair<Node, Node | null>, group: string): void {
    const at = this.yaml.at(entry.key);
    let pattern;
    try {
      pattern = expandHostPattern(this.text(entry.key));
    } catch (e) {
      return this.raw.problem(at, (e as Error).message);
    }
    const vars = this.js(entry.value) ?? {};
    if (typeof vars !== 'object' || Array.isArray(vars)) {
      return this.raw.problem(this.yaml.at(entry.value), `Variables of host '${this.text(entry.key)}' must be a mapping`);
    }
    const hostVars: Vars = pattern.port !== undefined ? { ansible_port: pattern.port, ...vars } : (vars as Vars);
    const keys = new Map(isMap(entry.value) ? (entry.value.items as Pair<Node, Node>[]).map((p) => [this.text(p.key), this.yaml.at(p.key)]) : []);
    for (const host of pattern.hosts) this.raw.addHost(host, group, hostVars, (key) => keys.get(key) ?? at);
  }

  private text(node: Node | null): string {
    return String(this.js(node));
  }

  private js(node: Node | null | undefined): unknown {
    return node == null ? null : node.toJS(this.yaml.doc);
  }
}

function isEmpty(node: unknown): boolean {
  return node == null || (isScalar(node) && node.value == null);
}
