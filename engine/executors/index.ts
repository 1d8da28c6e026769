/** Picks the executor for a host (the SSH executor joins when its branch lands). */
import type { Host } from '../inventory/types.js';
import { LocalExecutor } from './local.js';
import type { Executor } from './types.js';
import { LsError } from '../errors.js';

export function createExecutor(host: Host): Executor {
  if (host.connection.kind === 'local') return new LocalExecutor(host.name);
  throw new LsError('ECONNECT', { host: host.name, message: 'SSH hosts are not supported yet' });
}
