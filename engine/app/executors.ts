import { createExecutor } from '../executors/index.js';
import type { ExecutorFactory } from '../executors/pool.js';
import { readAnsibleCfg } from '../inventory/index.js';
import type { Inventory } from '../inventory/types.js';
import type { Reporter } from '../report/events.js';
import { keyRemapMessages } from './inventory.js';

export interface ConnectionOptions {
  /** Record unknown host keys instead of refusing them (trust on first use). */
  trustNewHostKeys?: boolean;
  connectTimeout?: number;
}

/**
 * How the run reaches hosts: local or SSH as the inventory says, host key checking as the
 * build dir's ansible.cfg / ANSIBLE_HOST_KEY_CHECKING say, warnings to the reporter. The
 * connection is opened up front so an unreachable host fails once, with one line.
 */
export async function runExecutorFactory(inventory: Inventory, reporter: Reporter, options: ConnectionOptions = {}): Promise<ExecutorFactory> {
  const cfg = await readAnsibleCfg(inventory.baseDir);
  for (const message of keyRemapMessages(inventory)) reporter.emit({ type: 'warning', message });
  return async (host) => {
    const executor = createExecutor(host, {
      hostKeyChecking: cfg.hostKeyChecking,
      trustOnFirstUse: options.trustNewHostKeys,
      ...(options.connectTimeout ? { connectTimeoutMs: options.connectTimeout * 1000 } : {}),
      onWarning: (message) => reporter.emit({ type: 'warning', host: host.name, message }),
    });
    await executor.connect();
    return executor;
  };
}
