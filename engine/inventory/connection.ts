import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, isAbsolute, join, resolve, sep } from 'node:path';
import { shlexSplit } from './shlex.js';
import type { HostConnection, Vars } from './types.js';

/** Names Ansible treats as the control machine when no connection is given (its implicit localhost). */
const LOCAL_NAMES = new Set(['localhost', '127.0.0.1', '::1']);
const SSH_CONNECTIONS = new Set(['ssh', 'paramiko', 'smart']);

/** A connection variable whose value cannot be used; `key` names it, so the caller can say where it is set. */
export class ConnectionVarError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Connection facts from a host's merged vars. Throws ConnectionVarError (the caller adds where)
 * when a value cannot be used: an unsupported connection plugin, a port that is not a number.
 */
export function hostConnection(name: string, vars: Vars, baseDir: string): HostConnection {
  const connection = str(vars.ansible_connection);
  const address = str(vars.ansible_host) ?? str(vars.ansible_ssh_host) ?? name;
  const sshArgs = [...splitArgs('ansible_ssh_common_args', vars.ansible_ssh_common_args), ...splitArgs('ansible_ssh_extra_args', vars.ansible_ssh_extra_args)];
  const port = parsePort(vars.ansible_port !== undefined ? 'ansible_port' : 'ansible_ssh_port', vars.ansible_port ?? vars.ansible_ssh_port);
  const user = str(vars.ansible_user) ?? str(vars.ansible_ssh_user);
  const key = str(vars.ansible_ssh_private_key_file) ?? str(vars.ansible_private_key_file);

  const local = connection === 'local' || (connection === undefined && LOCAL_NAMES.has(name));
  if (!local && connection !== undefined && !SSH_CONNECTIONS.has(connection)) {
    throw new ConnectionVarError('ansible_connection', `host '${name}' has ansible_connection=${connection}; lsbackup supports only ssh and local`);
  }
  return {
    kind: local ? 'local' : 'ssh',
    address,
    port,
    ...(user !== undefined ? { user } : {}),
    ...(key !== undefined ? keyFields(key, baseDir) : {}),
    sshArgs,
  };
}

function str(v: unknown): string | undefined {
  return v === undefined || v === null || v === '' ? undefined : String(v);
}

function parsePort(key: string, v: unknown): number {
  if (v === undefined || v === null || v === '') return 22;
  const port = Number(v);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConnectionVarError(key, `${key} '${String(v)}' is not a TCP port (1-65535)`);
  return port;
}

function splitArgs(key: string, v: unknown): string[] {
  const s = str(v);
  try {
    return s === undefined ? [] : shlexSplit(s);
  } catch (e) {
    throw new ConnectionVarError(key, `${key}: ${(e as Error).message}`);
  }
}

/** `~/x` is the current user's home; a relative path is relative to the inventory's directory. */
function keyPath(path: string, baseDir: string): string {
  if (path === '~' || path.startsWith('~/')) return join(homedir(), path.slice(1));
  return isAbsolute(path) ? path : resolve(baseDir, path);
}

/**
 * The key file, or the same file inside the build dir when the inventory names it where it is in
 * another machine's view of the build dir: LambdaStack writes the path inside its lscli container
 * (`/shared/build/<cluster>/keys/ssh/<key>`). Tried: the part after `/<build dir name>/`, then
 * `keys/ssh/<key>`; used only when the named file is missing here and the candidate exists.
 */
function keyFields(key: string, baseDir: string): Pick<HostConnection, 'privateKeyFile' | 'privateKeyFileAsWritten'> {
  const path = keyPath(key, baseDir);
  if (!isAbsolute(key) || existsSync(path)) return { privateKeyFile: path };
  const marker = `${sep}${basename(baseDir)}${sep}`;
  const candidates = [
    path.includes(marker) ? join(baseDir, path.slice(path.lastIndexOf(marker) + marker.length)) : undefined,
    path.includes(`${sep}keys${sep}ssh${sep}`) ? join(baseDir, 'keys', 'ssh', basename(path)) : undefined,
  ];
  const found = candidates.find((c) => c !== undefined && existsSync(c));
  return found ? { privateKeyFile: found, privateKeyFileAsWritten: path } : { privateKeyFile: path };
}
