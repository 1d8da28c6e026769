import { readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { LsError } from '../errors.js';

/** Where an inventory lives: the files to parse and the directories vars files are looked up in. */
export interface InventoryLocation {
  /** The file or directory the inventory is read from. */
  source: string;
  /** Directory holding the inventory: group_vars/ host_vars/ next to it are read. */
  baseDir: string;
  /** The build directory given by the user (ansible.cfg, group_vars/ host_vars/ there too). */
  buildDir: string;
  /** Inventory files in the order Ansible reads them (sorted by name within a directory). */
  files: string[];
}

/** Names a build directory's inventory may have, in order of preference. */
const INVENTORY_NAMES = ['inventory', 'hosts', 'hosts.ini', 'inventory.ini', 'inventory.yml', 'inventory.yaml'];
/** Files Ansible skips in an inventory directory (INVENTORY_IGNORE_EXTS, minus .ini which users expect to work). */
const IGNORED = /(\.(pyc|pyo|swp|bak|rpm|md|txt|rst|orig|cfg|retry)|~)$/;
const VARS_DIRS = new Set(['group_vars', 'host_vars']);

export async function locateInventory(path: string): Promise<InventoryLocation> {
  const given = resolve(path);
  const kind = await kindOf(given);
  if (kind === 'file') return { source: given, baseDir: dirname(given), buildDir: dirname(given), files: [given] };
  if (kind === 'dir') {
    const entries = await readdir(given);
    const named = INVENTORY_NAMES.find((n) => entries.includes(n));
    if (named) return fromBuildDir(given, join(given, named));
    const suffixed = entries.filter((n) => n.endsWith('.inventory')).sort();
    if (suffixed.length > 0) {
      return { source: given, baseDir: given, buildDir: given, files: await inventoryFiles(given, suffixed) };
    }
    // Otherwise the directory is itself a directory of inventory files.
    const files = await inventoryFiles(given);
    if (files.length > 0) return { source: given, baseDir: given, buildDir: given, files };
  }
  throw new LsError('ENOINVENTORY', { path });
}

async function fromBuildDir(buildDir: string, inventory: string): Promise<InventoryLocation> {
  if ((await kindOf(inventory)) === 'file') return { source: inventory, baseDir: buildDir, buildDir, files: [inventory] };
  const files = await inventoryFiles(inventory);
  if (files.length === 0) throw new LsError('ENOINVENTORY', { path: inventory });
  return { source: inventory, baseDir: inventory, buildDir, files };
}

/** Inventory files under dir (recursively, sorted), skipping hidden files, vars dirs and editor leftovers. */
async function inventoryFiles(dir: string, only?: string[]): Promise<string[]> {
  const names = (only ?? (await readdir(dir))).sort();
  const out: string[] = [];
  for (const name of names) {
    if (name.startsWith('.') || VARS_DIRS.has(name) || IGNORED.test(name)) continue;
    const full = join(dir, name);
    const kind = await kindOf(full);
    if (kind === 'dir') out.push(...(await inventoryFiles(full)));
    else if (kind === 'file') out.push(full);
  }
  return out;
}

export async function kindOf(path: string): Promise<'file' | 'dir' | undefined> {
  try {
    const s = await stat(path);
    return s.isDirectory() ? 'dir' : s.isFile() ? 'file' : undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw e;
  }
}
