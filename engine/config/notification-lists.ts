import type { YamlSource } from '../schema/index.js';

/** One notification as written, with where it is: `at` is its list's path, `index` its place in it. */
export interface WrittenNotification {
  at: (string | number)[];
  index: number;
  notification: Record<string, unknown>;
}

/**
 * Every notification of the config (the top level's and each job's), read from the document as
 * the schedules are (config/cron.ts): checks of them are reported with the schema's problems.
 */
export function notificationsIn(source: YamlSource): WrittenNotification[] {
  const doc = source.doc.toJS() as { notifications?: unknown; jobs?: Record<string, { notifications?: unknown } | null> } | null;
  const lists: (string | number)[][] = [['notifications'], ...Object.keys(doc?.jobs ?? {}).map((name) => ['jobs', name, 'notifications'])];
  return lists.flatMap((at) => {
    const list = at.reduce<unknown>((node, key) => (node as Record<string, unknown> | null | undefined)?.[key], doc);
    if (!Array.isArray(list)) return [];
    return list.flatMap((n: unknown, index) => (n && typeof n === 'object' ? [{ at, index, notification: n as Record<string, unknown> }] : []));
  });
}
