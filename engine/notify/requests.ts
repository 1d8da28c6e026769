import type { NotificationConfig, NotifyEvent } from '../config/load.js';
import type { RunReport } from '../report/run-report.js';
import { lsbackupVersion } from '../version.js';
import type { Delivery } from './deliver.js';
import { slackText } from './slack-text.js';

/** What a notification may say beyond the report: the last lines of the run's log. */
export interface NotifyContext {
  logTail?: string[];
}

/** The default endpoint of PagerDuty's Events API v2. */
export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

/** healthchecks.io keeps the first 100 kB of a ping body; the tail stays well inside it. */
const LOG_TAIL_MAX_CHARS = 10_000;

const userAgent = `lsbackup/${lsbackupVersion}`;
const json = (url: string, body: unknown, headers: Record<string, string> = {}): Delivery => ({
  url,
  method: 'POST',
  headers: { 'content-type': 'application/json', 'user-agent': userAgent, ...headers },
  body: JSON.stringify(body),
});

/**
 * The request one notification makes for one event, or undefined when it does not listen to it.
 * webhook: POST {event, lsbackup, ...report} as JSON.
 * ping (healthchecks.io style): <url>/start on start, <url> on success, <url>/fail on partial or
 * failure, with a one-line summary as the body (healthchecks shows it in the check's log) and,
 * on /fail, the tail of the run's log under it.
 * ntfy: JSON publishing to the server's root (https://docs.ntfy.sh/publish/#publish-as-json).
 * slack: an incoming webhook's {text} (https://api.slack.com/messaging/webhooks).
 * pagerduty: Events API v2 trigger on failure/partial, resolve on success, one dedup_key per
 * cluster and job (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/).
 */
export function requestFor(config: NotificationConfig, event: NotifyEvent, report: RunReport, context: NotifyContext = {}): Delivery | undefined {
  if (config.on && !config.on.includes(event)) return undefined;
  switch (config.type) {
    case 'webhook':
      return json(config.url, { event, lsbackup: lsbackupVersion, ...report }, config.headers);
    case 'ping': {
      const base = config.url.replace(/\/+$/, '');
      const url = event === 'start' ? `${base}/start` : event === 'success' ? base : `${base}/fail`;
      const tail = event === 'partial' || event === 'failure' ? logTail(context.logTail) : '';
      return { url, method: 'POST', headers: { 'content-type': 'text/plain', 'user-agent': userAgent }, body: oneLine(event, report) + tail };
    }
    case 'ntfy': {
      const topicAt = config.url.lastIndexOf('/');
      const tags = { start: 'hourglass_flowing_sand', success: 'white_check_mark', partial: 'warning', failure: 'rotating_light' }[event];
      const priority = { start: 2, success: 3, partial: 4, failure: 5 }[event];
      return json(
        `${config.url.slice(0, topicAt)}/`,
        {
          topic: config.url.slice(topicAt + 1),
          title: `lsbackup ${report.job}: ${event === 'start' ? 'started' : report.status}`,
          message: oneLine(event, report),
          tags: [tags],
          priority,
        },
        config.token ? { authorization: `Bearer ${config.token}` } : {},
      );
    }
    case 'slack':
      return json(config.url, { text: slackText(config.template, event, report) });
    case 'pagerduty':
      return pagerDutyEvent(config, event, report, context);
  }
}

function pagerDutyEvent(config: Extract<NotificationConfig, { type: 'pagerduty' }>, event: NotifyEvent, report: RunReport, context: NotifyContext) {
  if (event === 'start') return undefined; // nothing to page or resolve yet
  const dedupKey = `lsbackup/${report.cluster ?? '-'}/${report.job}`;
  const url = config.url ?? PAGERDUTY_EVENTS_URL;
  if (event === 'success') return json(url, { routing_key: config.routingKey, event_action: 'resolve', dedup_key: dedupKey });
  return json(url, {
    routing_key: config.routingKey,
    event_action: 'trigger',
    dedup_key: dedupKey,
    client: 'lsbackup',
    payload: {
      summary: oneLine(event, report).slice(0, 1024), // the API's limit
      source: report.cluster ?? report.job,
      severity: event === 'partial' ? 'warning' : (config.severity ?? 'critical'),
      timestamp: report.finishedAt ?? report.startedAt,
      component: report.job,
      group: report.cluster,
      class: 'backup',
      custom_details: {
        status: report.status,
        archive: report.archive,
        backupId: report.backupId,
        error: report.error,
        targets: report.targets,
        log_tail: context.logTail?.join('\n'),
      },
    },
  });
}

function oneLine(event: NotifyEvent, report: RunReport): string {
  if (event === 'start') return `lsbackup job ${report.job} started`;
  const stored = report.archive ? ` -> ${report.archive}` : '';
  return `lsbackup job ${report.job}: ${report.status}${stored}${report.error ? `: ${report.error}` : ''}`;
}

/** The log's last lines under a blank line, cut from the front to stay under the limit. */
function logTail(lines: string[] | undefined): string {
  if (!lines?.length) return '';
  const text = lines.join('\n');
  return `\n\nlast lines of the run's log:\n${text.length > LOG_TAIL_MAX_CHARS ? '…' + text.slice(-LOG_TAIL_MAX_CHARS) : text}`;
}

/** Where a notification goes, safe to print: scheme and host only (the path of a notification URL may be its credential). */
export function describeEndpoint(config: NotificationConfig): string {
  try {
    const u = new URL(config.url ?? PAGERDUTY_EVENTS_URL);
    return `${config.type} ${u.protocol}//${u.host}/…`;
  } catch {
    return config.type;
  }
}
