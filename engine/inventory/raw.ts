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

export class RawInventory {
  readonly groups = new Map<string, RawGroup>();
  /** Inventory host vars; key order is inventory order of hosts. */
  readonly hostVars = new Map<string, Vars>();
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

  setGroupVar(group: string, key: string, value: unknown): void {
    const g = this.group(group);
    if (key === 'ansible_group_priority') g.priority = Number(value);
    else g.vars[key] = value;
  }

  addHost(name: string, group: string, vars: Vars = ownMap()): void {
    const g = this.group(group);
    if (!g.hosts.includes(name)) g.hosts.push(name);
    this.setHostVars(name, vars);
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
