import type { Problem, SourcePosition } from '../errors.js';
import { ownMap } from '../own.js';
import type { Vars } from './types.js';

/**
 * What the parsers produce: groups, host memberships and variables exactly as declared,
 * before inheritance and precedence. Every inventory source of one load writes into the
 * same RawInventory, which is how Ansible merges several files.
 */
export interface RawGroup {
  name: string;
  /** Hosts listed directly in this group, in declaration order. */
  hosts: string[];
  children: string[];
  vars: Vars;
  /** ansible_group_priority: orders vars of groups at the same depth (Ansible keeps it out of vars). */
  priority: number;
}

export interface ChildEdge {
  parent: string;
  child: string;
  at: SourcePosition;
}

/** Where each variable of one host or group was set, by name. */
export type VarSites = Map<string, SourcePosition>;

export class RawInventory {
  readonly groups = new Map<string, RawGroup>();
  /** Inventory host vars; key order is inventory order of hosts. */
  readonly hostVars = new Map<string, Vars>();
  /** Where the inventory sets a variable of a host (`hostSites`) or a group (`groupSites`), for problems found once they are merged. */
  readonly hostSites = new Map<string, VarSites>();
  readonly groupSites = new Map<string, VarSites>();
  readonly edges: ChildEdge[] = [];
  readonly problems: Problem[] = [];

  group(name: string): RawGroup {
    let g = this.groups.get(name);
    if (!g) {
      g = { name, hosts: [], children: [], vars: ownMap(), priority: 1 };
      this.groups.set(name, g);
    }
    return g;
  }

  setGroupVar(group: string, key: string, value: unknown, at?: SourcePosition): void {
    if (at) siteOf(this.groupSites, group).set(key, at);
    const g = this.group(group);
    if (key === 'ansible_group_priority') g.priority = Number(value);
    else g.vars[key] = value;
  }

  /** `at`: where each of `vars` is set. */
  addHost(name: string, group: string, vars: Vars = ownMap(), at?: (key: string) => SourcePosition): void {
    const g = this.group(group);
    if (!g.hosts.includes(name)) g.hosts.push(name);
    this.setHostVars(name, vars);
    if (at) for (const key of Object.keys(vars)) siteOf(this.hostSites, name).set(key, at(key));
  }

  /** Host vars without a group membership (`_meta.hostvars` in ansible-inventory JSON). */
  setHostVars(name: string, vars: Vars): void {
    this.hostVars.set(name, ownMap(this.hostVars.get(name), vars));
  }

  addChild(parent: string, child: string, at: SourcePosition): void {
    const p = this.group(parent);
    this.group(child);
    if (!p.children.includes(child)) {
      p.children.push(child);
      this.edges.push({ parent, child, at });
    }
  }

  problem(at: SourcePosition, message: string, hint?: string): void {
    this.problems.push({ ...at, message, ...(hint ? { hint } : {}) });
  }
}

function siteOf(sites: Map<string, VarSites>, name: string): VarSites {
  let found = sites.get(name);
  if (!found) sites.set(name, (found = new Map()));
  return found;
}
