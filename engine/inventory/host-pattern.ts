/**
 * Ansible host patterns as written in inventories: `web1`, `web1:2222`,
 * `node[01:03]`, `db-[a:c]`, `n[0:10:2]`, several ranges in one name.
 * Throws Error with Ansible's wording for a bad range; callers attach file:line.
 */
export interface HostPattern {
  hosts: string[];
  port?: number;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * Hosts one pattern may expand to. Far above any real cluster; a typo such as `n[0:99999999999]`
 * would otherwise build names until memory runs out instead of being reported.
 */
export const MAX_PATTERN_HOSTS = 100_000;

const tooMany = (name: string) => new Error(`host range '${name}' expands to more than ${MAX_PATTERN_HOSTS} hosts; check its bounds (a digit too many?)`);

export function expandHostPattern(pattern: string): HostPattern {
  const { name, port } = splitPort(pattern);
  if (pattern.trim().endsWith(':') && port === undefined) {
    throw new Error(`Invalid host pattern '${pattern}': ending in ':' is not allowed, it is reserved for a port`);
  }
  return { hosts: name.includes('[') ? expandRanges(name) : [name], port };
}

/** `name:port` — the colon must be outside any `[a:b]` range and the port all digits. */
function splitPort(pattern: string): { name: string; port?: number } {
  const m = /^(.*):(\d+)$/.exec(pattern);
  if (!m) return { name: pattern };
  const name = m[1]!;
  const outsideRanges = name.replace(/\[[^\]]*\]/g, '');
  if (outsideRanges.includes(':')) return { name: pattern }; // an IPv6 address, not host:port
  return { name, port: Number(m[2]) };
}

function expandRanges(name: string): string[] {
  const open = name.indexOf('[');
  const close = name.indexOf(']', open);
  if (close < 0) throw new Error(`host range in '${name}' has no closing ']'`);
  const head = name.slice(0, open);
  const tail = name.slice(close + 1);
  const bounds = name.slice(open + 1, close).split(':');
  if (bounds.length !== 2 && bounds.length !== 3) throw new Error(`host range '${name}' must be begin:end or begin:end:step`);
  const beg = bounds[0] || '0';
  const end = bounds[1]!;
  const step = bounds.length === 3 ? Number(bounds[2]) : 1;
  if (!end) throw new Error(`host range '${name}' must specify an end value`);
  if (!Number.isInteger(step) || step < 1) throw new Error(`host range '${name}' has an invalid step`);
  const out: string[] = [];
  for (const item of rangeItems(beg, end, step, name)) {
    out.push(...(tail.includes('[') ? expandRanges(head + item + tail) : [head + item + tail]));
    if (out.length > MAX_PATTERN_HOSTS) throw tooMany(name);
  }
  return out;
}

function rangeItems(beg: string, end: string, step: number, name: string): string[] {
  const iBeg = LETTERS.indexOf(beg);
  const iEnd = LETTERS.indexOf(end);
  if (beg.length === 1 && end.length === 1 && iBeg >= 0 && iEnd >= 0) {
    if (iBeg > iEnd) throw new Error(`host range '${name}' must have begin <= end`);
    const items: string[] = [];
    for (let i = iBeg; i <= iEnd; i += step) items.push(LETTERS[i]!);
    return items;
  }
  if (!/^\d+$/.test(beg) || !/^\d+$/.test(end)) throw new Error(`host range '${name}' must be numeric or single letters`);
  // A leading zero asks for zero padding to the width of `begin` (Ansible's rule).
  const width = beg.length > 1 && beg.startsWith('0') ? beg.length : 0;
  if (width && width !== end.length) throw new Error(`host range '${name}' must specify equal-length begin and end formats`);
  const from = Number(beg);
  const to = Number(end);
  if (from > to) throw new Error(`host range '${name}' must have begin <= end`);
  if ((to - from) / step >= MAX_PATTERN_HOSTS) throw tooMany(name);
  const items: string[] = [];
  for (let i = from; i <= to; i += step) items.push(String(i).padStart(width, '0'));
  return items;
}
