/** Picks the executor for a host: local for ansible_connection=local, SSH otherwise. */
import type { Host } from '../inventory/types.js';
import { LocalExecutor } from './local.js';
import { SshExecutor, type SshExecutorOptions } from './ssh.js';
import type { Executor } from './types.js';

export type { SshExecutorOptions } from './ssh.js';

/** isSecret: values a local host's commands must not inherit from lsbackup's environment. */
export function createExecutor(host: Host, options: SshExecutorOptions = {}, isSecret?: (value: string) => boolean): Executor {
  if (host.connection.kind === 'local') return new LocalExecutor(host.name, isSecret);
  // ansible_password / ansible_ssh_pass are host vars; an explicit option wins.
  const password = options.password ?? stringVar(host.vars.ansible_password) ?? stringVar(host.vars.ansible_ssh_pass);
  return new SshExecutor(host, { ...options, password });
}

function stringVar(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
