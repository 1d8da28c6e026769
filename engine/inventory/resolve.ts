import type { Problem } from '../errors.js';
import { ownMap } from '../own.js';
import { ConnectionVarError, hostConnection } from './connection.js';
import type { RawGroup, RawInventory, VarSites } from './raw.js';
import type { Group, Host, Vars } from './types.js';

export interface VarsFromFiles {
  groups: Map<string, Vars>;
  hosts: Map<string, Vars>;
  groupSites: Map<string, VarSites>;
  hostSites: Map<string, VarSites>;
}

/**
 * Turns declared groups and vars into the merged view, with Ansible's rules
 * (ansible/vars/manager.py get_vars, inventory/data.py reconcile_inventory):
 * groups without a parent are children of 'all'; hosts in no group are 'ungrouped';
 * a host's vars are, lowest first (Ansible's default VARIABLE_PRECEDENCE): 'all' inventory
 * vars, every other group's inventory vars, group_vars/all, the other groups' group_vars/
 * files (groups sorted by depth, then ansible_group_priority, then name), inventory host
 * vars, host_vars/ files. So any group_vars/ file beats any inventory group var.
 * Problems (cycles, unusable connection vars) are appended to `problems`.
 */
export function resolveInventory(
  raw: RawInventory,
  files: VarsFromFiles,
  baseDir: string,
  source: string,
  problems: Problem[],
): { hosts: Map<string, Host>; groups: Map<string, Group> } {
  const all = raw.group('all');
  const ungrouped = raw.group('ungrouped');
  const graph = new GroupGraph(raw);
  if (!graph.reportCycles(problems)) return { hosts: new Map(), groups: new Map() };
  for (const g of raw.groups.values()) if (g !== all && graph.parents(g.name).length === 0) all.children.push(g.name);

  // Hosts with no group of their own belong to 'ungrouped'; 'ungrouped' keeps no host that has one.
  for (const name of raw.hostVars.keys()) {
    const own = [...raw.groups.values()].filter((g) => g.hosts.includes(name) && g !== all && g !== ungrouped);
    if (own.length === 0) {
      if (!ungrouped.hosts.includes(name)) ungrouped.hosts.push(name);
    } else if (ungrouped.hosts.includes(name)) {
      ungrouped.hosts.splice(ungrouped.hosts.indexOf(name), 1);
    }
  }

  const groupVars = (g: RawGroup): Vars => ownMap(g.vars, files.groups.get(g.name));
  const hosts = new Map<string, Host>();
  for (const [name, inventoryVars] of raw.hostVars) {
    const groups = graph.groupsOfHost(name);
    const vars: Vars = ownMap(all.vars);
    for (const g of groups) Object.assign(vars, g.vars);
    Object.assign(vars, files.groups.get('all'));
    for (const g of groups) Object.assign(vars, files.groups.get(g.name));
    Object.assign(vars, inventoryVars, files.hosts.get(name));
    let connection;
    try {
      connection = hostConnection(name, vars, baseDir);
    } catch (e) {
      // Where the value that won was set, in the same order of precedence as above.
      const site = (sites: VarSites | undefined) => (e instanceof ConnectionVarError ? sites?.get(e.key) : undefined);
      const candidates = [
        site(raw.groupSites.get('all')),
        ...groups.map((g) => site(raw.groupSites.get(g.name))),
        site(files.groupSites.get('all')),
        ...groups.map((g) => site(files.groupSites.get(g.name))),
        site(raw.hostSites.get(name)),
        site(files.hostSites.get(name)),
      ];
      problems.push({ ...(candidates.filter((c) => c !== undefined).at(-1) ?? { file: source }), message: (e as Error).message });
      continue;
    }
    const groupNames = groups.map((g) => g.name).filter((g) => g !== 'ungrouped');
    hosts.set(name, { name, groups: groupNames, vars, connection });
  }

  const groups = new Map<string, Group>();
  for (const g of raw.groups.values()) {
    const members = g === all ? new Set(hosts.keys()) : graph.hostsUnder(g.name);
    groups.set(g.name, {
      name: g.name,
      hosts: [...hosts.keys()].filter((h) => members.has(h)),
      children: [...g.children],
      vars: groupVars(g),
    });
  }
  return { hosts, groups };
}

/** The children graph: parents, depth from 'all', descendants, cycles. */
class GroupGraph {
  private readonly depthCache = new Map<string, number>();
  constructor(private readonly raw: RawInventory) {}

  parents(name: string): string[] {
    return [...this.raw.groups.values()].filter((g) => g.children.includes(name)).map((g) => g.name);
  }

  /** Reports every children edge that closes a cycle; true when there is none. */
  reportCycles(problems: Problem[]): boolean {
    const state = new Map<string, 'visiting' | 'done'>();
    let ok = true;
    const visit = (name: string, path: string[]): void => {
      state.set(name, 'visiting');
      for (const child of this.raw.group(name).children) {
        if (state.get(child) === 'visiting') {
          ok = false;
          const edge = this.raw.edges.find((e) => e.parent === name && e.child === child);
          const loop = [...path.slice(path.indexOf(child)), name, child].join(' -> ');
          problems.push({
            ...(edge?.at ?? { file: '' }),
            message: `Group '${child}' is its own ancestor: ${loop}`,
            hint: 'remove one of these children entries',
          });
        } else if (!state.has(child)) visit(child, [...path, name]);
      }
      state.set(name, 'done');
    };
    for (const name of this.raw.groups.keys()) if (!state.has(name)) visit(name, []);
    return ok;
  }

  /** Longest path from 'all', as Ansible's Group.depth. */
  depth(name: string): number {
    if (name === 'all') return 0;
    let d = this.depthCache.get(name);
    if (d === undefined) {
      d = Math.max(0, ...this.parents(name).map((p) => this.depth(p))) + 1;
      this.depthCache.set(name, d);
    }
    return d;
  }

  /** Groups a host is in directly or through children, without 'all', in vars precedence order. */
  groupsOfHost(host: string): RawGroup[] {
    const found = new Set<string>();
    const addWithAncestors = (name: string): void => {
      if (found.has(name) || name === 'all') return;
      found.add(name);
      for (const p of this.parents(name)) addWithAncestors(p);
    };
    for (const g of this.raw.groups.values()) if (g.hosts.includes(host)) addWithAncestors(g.name);
    return [...found]
      .map((n) => this.raw.group(n))
      .sort((a, b) => this.depth(a.name) - this.depth(b.name) || a.priority - b.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  hostsUnder(name: string): Set<string> {
    const out = new Set<string>();
    const seen = new Set<string>();
    const walk = (n: string): void => {
      if (seen.has(n)) return;
      seen.add(n);
      const g = this.raw.group(n);
      g.hosts.forEach((h) => out.add(h));
      g.children.forEach(walk);
    };
    walk(name);
    return out;
  }
}
