import type { Host } from '../inventory/types.js';
import type { Executor } from './types.js';

export type ExecutorFactory = (host: Host) => Promise<Executor>;

/**
 * One executor (one connection) per host for the whole run, created on first use and shared
 * by every component on that host. A host that cannot be reached fails once; every later
 * request gets the same error at once instead of waiting for another timeout.
 */
export class ExecutorPool {
  private readonly executors = new Map<string, Promise<Executor>>();

  constructor(private readonly factory: ExecutorFactory) {}

  get(host: Host): Promise<Executor> {
    let pending = this.executors.get(host.name);
    if (!pending) {
      pending = this.factory(host);
      pending.catch(() => undefined); // the caller sees the error; avoid an unhandled rejection here
      this.executors.set(host.name, pending);
    }
    return pending;
  }

  async closeAll(): Promise<void> {
    const all = [...this.executors.values()];
    this.executors.clear();
    await Promise.allSettled(all.map(async (p) => (await p).close()));
  }
}
