import type { NotificationConfig, NotifyEvent } from '../config/load.js';
import type { RunReport } from '../report/run-report.js';
import { lsbackupVersion } from '../version.js';
import type { Delivery } from './deliver.js';

/**
 * The request one notification makes for one event, or undefined when it does not listen to it.
 * webhook: POST {event, lsbackup, ...report} as JSON.
 * ping (healthchecks.io style): <url>/start on start, <url> on success, <url>/fail on partial or
 * failure, with a one-line summary as the body (healthchecks shows it in the check's log).
 */
export function requestFor(config: NotificationConfig, event: NotifyEvent, report: RunReport): Delivery | undefined {
  if (config.on && !config.on.includes(event)) return undefined;
  if (config.type === 'webhook') {
    return {
      url: config.url,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': `lsbackup/${lsbackupVersion}`, ...config.headers },
      body: JSON.stringify({ event, lsbackup: lsbackupVersion, ...report }),
    };
  }
  const base = config.url.replace(/\/+$/, '');
  const url = event === 'start' ? `${base}/start` : event === 'success' ? base : `${base}/fail`;
  return { url, method: 'POST', headers: { 'content-type': 'text/plain', 'user-agent': `lsbackup/${lsbackupVersion}` }, body: oneLine(event, report) };
}

function oneLine(event: NotifyEvent, report: RunReport): string {
  if (event === 'start') return `lsbackup job ${report.job} started`;
  const stored = report.archive ? ` -> ${report.archive}` : '';
  return `lsbackup job ${report.job}: ${report.status}${stored}${report.error ? `: ${report.error}` : ''}`;
}

/** Where a notification goes, safe to print: scheme and host only (paths of ping URLs are secrets). */
export function describeEndpoint(config: NotificationConfig): string {
  try {
    const u = new URL(config.url);
    return `${config.type} ${u.protocol}//${u.host}/…`;
  } catch {
    return config.type;
  }
}
