/**
 * What the stand-ins of products that read their settings file only when they start (Kibana,
 * Elasticsearch) share: the file's settings as the product sees them, and a restart a recipe
 * triggers with a shell command, as it would `systemctl restart <unit>`.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { ok, serveRoutes } from './http.js';

/** A YAML settings file as dotted keys: both products read `server: {port: 1}` as `server.port: 1`. */
export async function readSettings(file: string): Promise<Record<string, unknown>> {
  return flatten(parseYaml(await readFile(file, 'utf8')));
}

function flatten(value: unknown, prefix = ''): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return prefix ? { [prefix]: value } : {};
  return Object.assign({}, ...Object.entries(value).map(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k)));
}

/** The names in `settings` that are neither in `known` nor under one of `prefixes`. */
export function unknownSettings(settings: Record<string, unknown>, known: ReadonlySet<string>, prefixes: readonly string[]): string[] {
  return Object.keys(settings).filter((k) => !known.has(k) && !prefixes.some((p) => k.startsWith(p)));
}

export interface RestartControl {
  /** The shell command that restarts the stand-in (for a recipe's restart-command var). */
  command: string;
  stop(): Promise<void>;
}

/**
 * POST /restart on a loopback port of its own, which stays up while the product's is down. The
 * command returns once `restart` did, whether the product came up or not: `systemctl restart` of
 * a Type=simple unit returns once the process runs.
 */
export async function serveRestartControl(restart: () => Promise<void>): Promise<RestartControl> {
  const control = await serveRoutes([
    [
      'POST',
      '/restart',
      async () => {
        await restart();
        return ok({ restarted: true });
      },
    ],
  ]);
  return { command: `curl -fsS -X POST ${control.url}/restart >/dev/null`, stop: () => control.stop() };
}
