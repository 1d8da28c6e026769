import { isMap, isScalar, isSeq, type Node, type Pair, type YAMLMap } from 'yaml';
import type { RawInventory } from './raw.js';
import type { YamlFile } from './yaml-file.js';

/**
 * The JSON that `ansible-inventory --list` (and inventory scripts) print:
 * `{"_meta": {"hostvars": {h: {...}}}, "all": {"children": [...]}, "g": {'hosts': [...], "vars": {...}}}`.
 * A group may also be a bare list of hosts (old script style).
 */
export function isListJson(root: unknown): root is YAMLMap {
  if (!isMap(root)) return false;
  return root.items.some((pair) => {
    const key = isScalar(pair.key) ? pair.key.value : undefined;
    if (key === '_meta') return true;
    const value = pair.value;
    return isSeq(value) || (isMap(value) && (isSeq(value.get('hosts', true)) || isSeq(value.get('children', true))));
  });
}

export function readListJson(yaml: YamlFile, root: YAMLMap, raw: RawInventory): void {
  const js = (node: unknown) => (node == null ? null : (node as Node).toJS(yaml.doc));
  for (const pair of root.items as Pair<Node, Node>[]) {
    const name = String(js(pair.key));
    const value = pair.value;
    if (name === '_meta') {
      const hostvars = isMap(value) ? value.get('hostvars', true) : undefined;
      if (!isMap(hostvars)) {
        raw.problem(yaml.at(value), "'_meta' must hold a 'hostvars' mapping");
        continue;
      }
      for (const hv of hostvars.items as Pair<Node, Node>[]) {
        const vars = js(hv.value) ?? {};
        if (typeof vars !== 'object' || Array.isArray(vars)) raw.problem(yaml.at(hv.value), `hostvars of '${js(hv.key)}' must be a mapping`);
        else raw.setHostVars(String(js(hv.key)), vars as Record<string, unknown>);
      }
      continue;
    }
    raw.group(name);
    if (isSeq(value)) {
      for (const h of value.items) raw.addHost(String(js(h)), name);
      continue;
    }
    if (value == null || (isScalar(value) && value.value == null)) continue;
    if (!isMap(value)) {
      raw.problem(yaml.at(value), `Group '${name}' must be an object with hosts, children and/or vars`);
      continue;
    }
    for (const section of value.items as Pair<Node, Node>[]) {
      const key = String(js(section.key));
      const content = section.value;
      if (key === 'vars' && isMap(content)) {
        for (const v of content.items as Pair<Node, Node>[]) raw.setGroupVar(name, String(js(v.key)), js(v.value));
      } else if (key === 'hosts' && isSeq(content)) {
        for (const h of content.items) raw.addHost(String(js(h)), name);
      } else if (key === 'children' && isSeq(content)) {
        for (const c of content.items) raw.addChild(name, String(js(c)), yaml.at(c as Node));
      } else {
        raw.problem(yaml.at(section.key), `Unexpected '${key}' in group '${name}'`, 'hosts and children are lists, vars is an object');
      }
    }
  }
}
