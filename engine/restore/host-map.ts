import type { Host, Inventory } from '../inventory/types.js';
import type { BackupMetadata } from '../archive/index.js';
import { hostsOfGroups } from '../runner/plan.js';

/**
 * Which host of the restore inventory receives a backed-up host's data, in this order:
 *   1. `--host-map old=new`;
 *   2. a host of the same name (restore into the same cluster);
 *   3. the host at the same position in the component's group(s): the 2nd postgresql host of
 *      the old cluster maps to the 2nd postgresql host of the new one (a rebuilt cluster with new
 *      names and IPs).
 */
export function mapHost(
  sourceHost: string,
  groups: string[],
  metadata: BackupMetadata,
  inventory: Inventory,
  explicit: Map<string, string>,
): { host?: Host; how: string } {
  const named = explicit.get(sourceHost);
  if (named !== undefined) {
    const host = inventory.hosts.get(named);
    return host ? { host, how: `--host-map ${sourceHost}=${named}` } : { how: `--host-map names '${named}', which is not in the inventory` };
  }
  const same = inventory.hosts.get(sourceHost);
  if (same) return { host: same, how: 'same name' };
  const oldMembers = metadata.hosts.filter((h) => groups.some((g) => wasMember(h.groups, g))).map((h) => h.name);
  const index = oldMembers.indexOf(sourceHost);
  const newMembers = hostsOfGroups(inventory, groups);
  if (index >= 0 && index < newMembers.length) {
    return { host: newMembers[index], how: `position ${index + 1} in group ${groups.join('/')}` };
  }
  const why =
    index >= 0 ? `no host at position ${index + 1} of group ${groups.join('/')} in the inventory` : `the backup lists it in no group ${groups.join('/')}`;
  return { how: `no host named '${sourceHost}' and ${why}; pass --host-map ${sourceHost}=<host>, or --skip-host ${sourceHost} to leave its data out` };
}

/**
 * Whether a backed-up host was in `group`. metadata.json records a host's groups as the inventory
 * does, without Ansible's implicit 'all' (every host) and 'ungrouped' (hosts in no other group).
 */
function wasMember(hostGroups: string[], group: string): boolean {
  if (group === 'all') return true;
  if (group === 'ungrouped') return hostGroups.length === 0;
  return hostGroups.includes(group);
}

/** Parses repeated `--host-map old=new`. */
export function parseHostMap(specs: string[] | undefined): Map<string, string> {
  const map = new Map<string, string>();
  for (const spec of specs ?? []) {
    const i = spec.indexOf('=');
    if (i <= 0 || i === spec.length - 1) throw new Error(`--host-map '${spec}' is not of the form old=new`);
    map.set(spec.slice(0, i), spec.slice(i + 1));
  }
  return map;
}
