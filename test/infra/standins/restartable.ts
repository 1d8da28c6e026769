/**
 * What the stand-ins of products that read their settings file only when they start (Kibana,
 * Elasticsearch) share: the file's settings as the product sees them, and a restart a recipe
 * triggers with a shell command, as it would `systemctl restart <unit>`.
 */
import { appendFile, readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { ok, serveRoutes, type RunningHttp } from './http.js';

/** A YAML settings file as dotted keys: both products read `server: {port: 1}` as `server.port: 1`. */
async function readSettings(file: string): Promise<Record<string, unknown>> {
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

/** A server that a restart stops and starts again on its settings file, as the product would. */
export interface RestartableServer {
  /** Call first in every request: true for the first two requests after a restart (answer "not ready"). */
  startingUp(): boolean;
  /** The settings it started with last. */
  settings(): Record<string, unknown>;
  /** The shell command that restarts it (for a recipe's restart-command var). */
  restartCommand: string;
  restarts(): number;
  /** False after a restart on settings it refused. */
  running(): boolean;
  /** Ends the server and its restart control. */
  stop(): Promise<void>;
}

export interface RestartableOptions {
  /** The server as first started, on `settingsFile` as it is now. */
  first: RunningHttp;
  settingsFile: string;
  /** Where a refused start's line goes (the product's log). */
  logFile: string;
  /** The product's fatal start-up line for these settings, or undefined when it starts. */
  refusal(settings: Record<string, unknown>): string | undefined;
  /** Serves as these settings say. */
  listen(settings: Record<string, unknown>): Promise<RunningHttp>;
}

/**
 * The restart both stand-ins imitate: it stops the server, reads the settings file, and either
 * logs why the product would not start (and stays down) or serves again, answering its first two
 * requests "not ready" as the product does while it starts.
 */
export async function restartableServer(o: RestartableOptions): Promise<RestartableServer> {
  let http: RunningHttp | undefined = o.first;
  let settings = await readSettings(o.settingsFile);
  let restarts = 0;
  let notReadyAnswers = 0;
  const control = await serveRestartControl(async () => {
    restarts++;
    await http?.stop();
    http = undefined;
    const loaded = await readSettings(o.settingsFile);
    const fatal = o.refusal(loaded);
    if (fatal) return appendFile(o.logFile, `${fatal}\n`);
    settings = loaded;
    notReadyAnswers = 2;
    http = await o.listen(loaded);
  });
  return {
    startingUp: () => {
      if (notReadyAnswers === 0) return false;
      notReadyAnswers--;
      return true;
    },
    settings: () => settings,
    restartCommand: control.command,
    restarts: () => restarts,
    running: () => http !== undefined,
    stop: async () => {
      await control.stop();
      await http?.stop();
    },
  };
}

interface RestartControl {
  /** The shell command that restarts the stand-in (for a recipe's restart-command var). */
  command: string;
  stop(): Promise<void>;
}

/**
 * POST /restart on a loopback port of its own, which stays up while the product's is down. The
 * command returns once `restart` did, whether the product came up or not: `systemctl restart` of
 * a Type=simple unit returns once the process runs.
 */
async function serveRestartControl(restart: () => Promise<void>): Promise<RestartControl> {
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
