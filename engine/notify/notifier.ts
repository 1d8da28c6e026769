import type { NotificationConfig, NotifyEvent } from '../config/load.js';
import type { RunReport } from '../report/run-report.js';
import type { Redactor } from '../secrets/types.js';
import { deliver, RetriesCalledOff } from './deliver.js';
import { namedNotificationSecrets } from '../config/credentials.js';
import { describeEndpoint, requestFor, type NotifyContext } from './requests.js';

export interface NotifierOptions {
  redactor: Redactor;
  /** A notification that could not be delivered: reported, never fatal. */
  warn: (message: string) => void;
  /** For tests: the first retry backoff. */
  backoffMs?: number;
}

export interface Notifier {
  /** Starts delivering in the background; returns at once. */
  notify(event: NotifyEvent, report: RunReport, context?: NotifyContext): void;
  /**
   * Waits for every delivery started so far (each is bounded by its timeout and retries).
   * When stopping, retries are called off and what is waited for is said in a warning.
   */
  settle(options?: { stopping?: boolean }): Promise<void>;
}

export const DEFAULT_TIMEOUT_SEC = 10;
export const DEFAULT_RETRIES = 2;

/** One event's delivery to one endpoint. */
interface Sending {
  endpoint: NotificationConfig;
  what: string;
  timeoutMs: number;
  noMoreRetries: AbortController;
  done: Promise<void>;
}

/**
 * Sends the run's notifications. Endpoint credentials (notification URLs, tokens, header
 * values, routing keys) are secrets: they join the redactor before anything is sent, and the
 * report and log tail in every body pass through it.
 *
 * Each endpoint gets its events in order: a later event waits for the attempt of the earlier one
 * in flight and calls off its retries. (A /start retried after the success ping would leave a
 * healthchecks monitor "started" for good.)
 */
export function createNotifier(configs: NotificationConfig[], options: NotifierOptions): Notifier {
  for (const c of configs) {
    for (const { setting, value } of namedNotificationSecrets(c)) options.redactor.add(value, `notification ${describeEndpoint(c)} ${setting}`);
  }
  const pending = new Set<Sending>();
  const lastTo = new Map<NotificationConfig, Sending>();
  const warn = (message: string) => options.warn(options.redactor.redact(message));
  return {
    notify(event, report, context = {}) {
      // The inputs are masked, not the finished request: that carries the endpoint's own credentials (PagerDuty's routing key is in the body).
      const safe = options.redactor.redactValue(report);
      const safeContext = options.redactor.redactValue(context);
      for (const config of configs) {
        const what = `${describeEndpoint(config)} (${event})`;
        let request;
        try {
          request = requestFor(config, event, safe, safeContext);
        } catch (e) {
          // A Slack template naming something that is not there: said, never fatal.
          warn(`notification ${what} not sent: ${(e as Error).message}`);
          continue;
        }
        if (!request) continue;
        const earlier = lastTo.get(config);
        earlier?.noMoreRetries.abort();
        const noMoreRetries = new AbortController();
        const timeoutMs = (config.timeout ?? DEFAULT_TIMEOUT_SEC) * 1000;
        const sending: Sending = { endpoint: config, what, timeoutMs, noMoreRetries, done: Promise.resolve() };
        sending.done = (earlier?.done ?? Promise.resolve())
          .then(() =>
            deliver(request, { timeoutMs, retries: config.retries ?? DEFAULT_RETRIES, backoffMs: options.backoffMs, noMoreRetries: noMoreRetries.signal }),
          )
          .catch((e: Error) => {
            const why = e instanceof RetriesCalledOff ? `; not retried: ${lastTo.get(config) !== sending ? 'a later event went out instead' : 'stopping'}` : '';
            warn(`notification ${what} failed: ${e.message}${why}`);
          })
          .finally(() => pending.delete(sending));
        pending.add(sending);
        lastTo.set(config, sending);
      }
    },
    async settle({ stopping = false } = {}) {
      if (stopping && pending.size > 0) {
        for (const s of pending) s.noMoreRetries.abort();
        // At most one attempt each, one endpoint's events one after another.
        const perEndpoint = new Map<NotificationConfig, number>();
        for (const s of pending) perEndpoint.set(s.endpoint, (perEndpoint.get(s.endpoint) ?? 0) + s.timeoutMs);
        const upToSec = Math.max(...perEndpoint.values()) / 1000;
        warn(
          `stopping: waiting up to ${upToSec} s for ${pending.size} notification(s) to be delivered (no retries): ${[...pending].map((s) => s.what).join(', ')}`,
        );
      }
      while (pending.size > 0) await Promise.all([...pending].map((s) => s.done));
    },
  };
}
