import type { NotificationConfig, NotifyEvent } from '../config/load.js';
import type { RunReport } from '../jobs/report.js';
import type { Redactor } from '../secrets/types.js';
import { deliver } from './deliver.js';
import { describeEndpoint, requestFor } from './requests.js';

export interface NotifierOptions {
  redactor: Redactor;
  /** A notification that could not be delivered: reported, never fatal. */
  warn: (message: string) => void;
  /** For tests: the first retry backoff. */
  backoffMs?: number;
}

export interface Notifier {
  /** Starts delivering in the background; returns at once. */
  notify(event: NotifyEvent, report: RunReport): void;
  /** Waits for every delivery started so far (each is bounded by its timeout and retries). */
  settle(): Promise<void>;
}

export const DEFAULT_TIMEOUT_SEC = 10;
export const DEFAULT_RETRIES = 2;

/**
 * Sends the run's notifications. Ping URLs and header values are secrets: they join the redactor
 * before anything is sent, and the report in every body passes through it.
 */
export function createNotifier(configs: NotificationConfig[], options: NotifierOptions): Notifier {
  for (const c of configs) {
    if (c.type === 'ping') options.redactor.add(c.url);
    for (const v of Object.values(c.headers ?? {})) options.redactor.add(v);
  }
  const pending = new Set<Promise<void>>();
  return {
    notify(event, report) {
      const safe = options.redactor.redactValue(report);
      for (const config of configs) {
        const request = requestFor(config, event, safe);
        if (!request) continue;
        const body = request.body === undefined ? undefined : options.redactor.redact(request.body);
        const p = deliver({ ...request, body }, {
          timeoutMs: (config.timeout ?? DEFAULT_TIMEOUT_SEC) * 1000,
          retries: config.retries ?? DEFAULT_RETRIES,
          backoffMs: options.backoffMs,
        })
          .catch((e: Error) => options.warn(options.redactor.redact(`notification ${describeEndpoint(config)} (${event}) failed: ${e.message}`)))
          .finally(() => pending.delete(p));
        pending.add(p);
      }
    },
    async settle() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
  };
}
