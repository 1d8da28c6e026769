/**
 * Which config file a command uses, and why: --config, else $LSBACKUP_CONFIG, else the first
 * that exists of ./lsbackup.config.yaml, $XDG_CONFIG_HOME/lsbackup/config.yaml (XDG's default
 * ~/.config when unset) and /etc/lsbackup/config.yaml — the order restic-style tools use, so a
 * project file beats the user's, and the user's beats the machine's.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const DEFAULT_CONFIG_FILE = 'lsbackup.config.yaml';
export const CONFIG_ENV = 'LSBACKUP_CONFIG';

export interface FoundConfig {
  file: string;
  /** How it was chosen, for --help and error messages: '--config', '$LSBACKUP_CONFIG' or 'found'. */
  source: '--config' | '$LSBACKUP_CONFIG' | 'found';
}

/** The places searched when neither --config nor $LSBACKUP_CONFIG names a file, in order. */
export function configSearchPath(cwd: string, env: NodeJS.ProcessEnv): string[] {
  const xdg = env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return [path.join(cwd, DEFAULT_CONFIG_FILE), path.join(xdg, 'lsbackup', 'config.yaml'), '/etc/lsbackup/config.yaml'];
}

/** The config file to use; a named one is returned even when missing (the caller says so). */
export function discoverConfig(explicit: string | undefined, cwd = process.cwd(), env = process.env): FoundConfig | undefined {
  if (explicit) return { file: path.resolve(cwd, explicit), source: '--config' };
  const fromEnv = env[CONFIG_ENV];
  if (fromEnv) return { file: path.resolve(cwd, fromEnv), source: '$LSBACKUP_CONFIG' };
  const file = configSearchPath(cwd, env).find((candidate) => existsSync(candidate));
  return file ? { file, source: 'found' } : undefined;
}
