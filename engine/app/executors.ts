import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { LsError } from '../errors.js';
import { createExecutor } from '../executors/index.js';
import type { ExecutorFactory } from '../executors/pool.js';
import { readAnsibleCfg } from '../inventory/index.js';
import type { Inventory } from '../inventory/types.js';
import type { Reporter } from '../report/events.js';
import type { Redactor } from '../secrets/types.js';
import { keyRemapMessages } from './inventory.js';

export interface ConnectionOptions {
  /** Record unknown host keys instead of refusing them (trust on first use). */
  trustNewHostKeys?: boolean;
  connectTimeout?: number;
  /** --known-hosts: the only known_hosts file (a host not in it is refused, or recorded there with trustNewHostKeys). */
  knownHosts?: string;
  /** --ssh-key: the private key for every host, in place of the inventory's. */
  sshKey?: string;
}

/**
 * How the run reaches hosts: local or SSH as the inventory says, host key checking as the
 * build dir's ansible.cfg / ANSIBLE_HOST_KEY_CHECKING say, warnings to the reporter. The
 * connection is opened up front so an unreachable host fails once, with one line. The run's
 * secrets (redactor) stay out of the environment a local host's commands inherit.
 */
export async function runExecutorFactory(
  inventory: Inventory,
  reporter: Reporter,
  options: ConnectionOptions = {},
  redactor?: Redactor,
): Promise<ExecutorFactory> {
  const cfg = await readAnsibleCfg(inventory.baseDir);
  const files = await connectionFiles(options);
  for (const message of keyRemapMessages(inventory)) reporter.emit({ type: 'warning', message });
  return async (host) => {
    const executor = createExecutor(
      host,
      {
        hostKeyChecking: cfg.hostKeyChecking,
        trustOnFirstUse: options.trustNewHostKeys,
        ...files,
        ...(options.connectTimeout ? { connectTimeoutMs: options.connectTimeout * 1000 } : {}),
        onWarning: (message) => reporter.emit({ type: 'warning', host: host.name, message }),
      },
      redactor && ((value) => redactor.isSecret(value)),
    );
    await executor.connect();
    return executor;
  };
}

/**
 * --known-hosts and --ssh-key, checked before any host is reached: a mistyped path is one usage
 * error, not "host key unknown" on every host. A --known-hosts file may be missing only when
 * new keys are to be recorded in it.
 */
async function connectionFiles(options: ConnectionOptions): Promise<{ knownHostsFile?: string; privateKeyFile?: string }> {
  const check = async (flag: string, file: string, mustExist: boolean) => {
    const absolute = path.resolve(file);
    if (mustExist) {
      await access(absolute, constants.R_OK).catch((error: NodeJS.ErrnoException) => {
        throw new LsError('EUSAGE', { message: `${flag} ${file}: cannot read it (${error.code ?? error.message}); give an existing, readable file` });
      });
    }
    return absolute;
  };
  return {
    ...(options.knownHosts ? { knownHostsFile: await check('--known-hosts', options.knownHosts, !options.trustNewHostKeys) } : {}),
    ...(options.sshKey ? { privateKeyFile: await check('--ssh-key', options.sshKey, true) } : {}),
  };
}
