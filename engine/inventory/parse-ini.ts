import { expandHostPattern } from './host-pattern.js';
import { pyLiteralEval } from './py-literal.js';
import type { RawInventory } from './raw.js';
import { shlexSplit } from './shlex.js';
import type { Vars } from './types.js';

/**
 * Ansible's INI inventory format, following ansible/plugins/inventory/ini.py (core 2.14):
 * lines before any header belong to 'ungrouped'; `[g]` hosts, `[g:children]`, `[g:vars]`;
 * inline host vars and `:vars` values are Python literals when they parse as one.
 * Problems are collected (every bad line is reported), not thrown.
 */
const SECTION = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$/;
const GROUP_NAME = /^([^:\]\s]+)\s*(?:#.*)?$/;

export function parseIni(text: string, file: string, raw: RawInventory): void {
  let group = 'ungrouped';
  let state = 'hosts';
  // Groups that only ever appear as `[g:vars]` are a typo Ansible rejects; remember where.
  const varsOnly = new Map<string, number>();
  const declared = new Set(['all', 'ungrouped', ...raw.groups.keys()]);

  text.split(/\r?\n/).forEach((rawLine, index) => {
    const line = rawLine.trim();
    const at = { file, line: index + 1 };
    if (!line || line[0] === '#' || line[0] === ';') return;

    const section = SECTION.exec(line);
    if (section) {
      group = section[1]!;
      state = section[2] ?? 'hosts';
      if (!['hosts', 'children', 'vars'].includes(state)) {
        raw.problem(at, `Section [${group}:${state}] has unknown type: ${state}`, 'use [group], [group:children] or [group:vars]');
        state = 'skip';
        return;
      }
      if (state === 'vars') {
        if (!declared.has(group) && !varsOnly.has(group)) varsOnly.set(group, at.line);
      } else {
        declared.add(group);
      }
      raw.group(group);
      return;
    }
    if (line.startsWith('[')) {
      raw.problem(at, `Invalid section entry: '${line}'`, 'a section is [group], [group:children] or [group:vars] with no spaces');
      state = 'skip';
      return;
    }

    if (state === 'hosts') parseHostLine(line, group, at, raw);
    else if (state === 'vars') {
      const eq = line.indexOf('=');
      if (eq < 0) return raw.problem(at, `Expected key=value, got: ${line}`);
      raw.setGroupVar(group, line.slice(0, eq).trim(), iniValue(line.slice(eq + 1).trim()), { ...at, col: 1 });
    } else if (state === 'children') {
      const child = GROUP_NAME.exec(line)?.[1];
      if (child === undefined) return raw.problem(at, `Expected group name, got: ${line}`);
      // Unlike ansible-core 2.14 (which errors), a child never declared is created empty, as YAML inventories do.
      declared.add(child);
      raw.addChild(group, child, at);
    }
  });

  for (const [name, line] of varsOnly) {
    if (!declared.has(name)) {
      raw.problem(
        { file, line },
        `Section [${name}:vars] is for group '${name}', which is not defined anywhere`,
        `add a [${name}] section or fix the group name`,
      );
    }
  }
}

function parseHostLine(line: string, group: string, at: { file: string; line: number }, raw: RawInventory): void {
  let tokens: string[];
  try {
    tokens = shlexSplit(line, { comments: true });
  } catch (e) {
    return raw.problem(at, `Error parsing host definition '${line}': ${(e as Error).message}`);
  }
  if (tokens.length === 0) return;
  let pattern;
  try {
    pattern = expandHostPattern(tokens[0]!);
  } catch (e) {
    return raw.problem(at, (e as Error).message);
  }
  const vars: Vars = {};
  if (pattern.port !== undefined) vars.ansible_port = pattern.port;
  for (const token of tokens.slice(1)) {
    const eq = token.indexOf('=');
    if (eq < 0) return raw.problem(at, `Expected key=value host variable assignment, got: ${token}`);
    vars[token.slice(0, eq)] = iniValue(token.slice(eq + 1));
  }
  // The column of `key=` on the line (the host's own `:port` is its first token).
  const site = (key: string) => ({ ...at, col: key === 'ansible_port' && pattern.port !== undefined ? 1 : Math.max(line.indexOf(`${key}=`), 0) + 1 });
  for (const host of pattern.hosts) raw.addHost(host, group, vars, site);
}

/** Ansible's _parse_value: a Python literal if it is one, else the text itself. */
export function iniValue(text: string): unknown {
  const r = pyLiteralEval(text.replace(/^[ \t]+/, ''));
  return r.ok ? r.value : text;
}
