import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { LsError } from '../errors.js';

/**
 * The environment with systemd credentials added: each file in $CREDENTIALS_DIRECTORY
 * (`LoadCredential=NAME:/path` in a unit) is the value of NAME, for names the environment does
 * not set. Why: credentials, unlike Environment=/EnvironmentFile=, are not in the process
 * environment (/proc/PID/environ) nor in `systemctl show`. One trailing newline is dropped
 * (`echo secret > file` writes one).
 */
export function withCredentials(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const dir = env.CREDENTIALS_DIRECTORY;
  if (!dir) return env;
  const credentials: NodeJS.ProcessEnv = {};
  try {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isFile()) credentials[entry.name] = readFileSync(path.join(dir, entry.name), 'utf8').replace(/\r?\n$/, '');
    }
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new LsError('ESECRET', {
      name: 'CREDENTIALS_DIRECTORY',
      message: `cannot read the credentials in ${dir} (${why}); unset CREDENTIALS_DIRECTORY or fix its permissions`,
    });
  }
  return { ...credentials, ...env };
}
