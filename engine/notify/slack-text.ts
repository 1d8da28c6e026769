import type { NotificationConfig } from '../shapes/config.generated.js';
import { handlebars } from '../template/environment.js';
import { formatBytes, formatDuration } from '../report/format.js';

/** What the template may name of a run (a jobs/report.ts RunReport has it all; notify/ stays below jobs/). */
export interface RunOutcome {
  job: string;
  cluster?: string;
  status: string;
  archive?: string;
  backupId?: string;
  bytes?: number;
  durationMs?: number;
  error?: string;
}

type NotifyEvent = NonNullable<NotificationConfig['on']>[number];

const DEFAULT_TEMPLATE = '{{icon}} lsbackup job *{{job}}* of {{cluster}}: {{status}}{{#if archive}} → {{archive}}{{/if}}{{#if error}}\n{{error}}{{/if}}';
const ICONS: Record<NotifyEvent, string> = {
  start: ':hourglass_flowing_sand:',
  success: ':white_check_mark:',
  partial: ':warning:',
  failure: ':rotating_light:',
};

const compiled = new Map<string, HandlebarsTemplateDelegate>();

/** Slack's message formatting treats &, < and > as control characters (https://api.slack.com/reference/surfaces/formatting#escaping). */
const escapeForSlack = (value: string) => value.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/**
 * A Slack message's text: the notification's `template` (Handlebars, the one environment recipes
 * use; strict, so a misspelt name is an error rather than an empty gap) over the run's outcome.
 * Every value is escaped for Slack, the template's own text is not (it may hold links, mentions).
 */
export function slackText(template: string | undefined, event: NotifyEvent, report: RunOutcome): string {
  const values = {
    event,
    job: report.job,
    cluster: report.cluster ?? '',
    status: event === 'start' ? 'started' : report.status,
    archive: report.archive ?? '',
    backupId: report.backupId ?? '',
    bytes: report.bytes === undefined ? '' : formatBytes(report.bytes),
    duration: report.durationMs === undefined ? '' : formatDuration(report.durationMs),
    error: report.error ?? '',
  };
  const escaped = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, escapeForSlack(v)]));
  return compile(template ?? DEFAULT_TEMPLATE)({ ...escaped, icon: ICONS[event] });
}

/** The names a template may use. */
export const SLACK_TEMPLATE_NAMES = ['event', 'job', 'cluster', 'status', 'archive', 'backupId', 'bytes', 'duration', 'error', 'icon'];

/** Checked when the config is loaded: why `template` cannot render (a syntax error, a name not in SLACK_TEMPLATE_NAMES), else undefined. */
export function slackTemplateProblem(template: string): string | undefined {
  try {
    compile(template)(Object.fromEntries(SLACK_TEMPLATE_NAMES.map((n) => [n, 'x'])));
    return undefined;
  } catch (e) {
    // Handlebars says `"x" not defined in [object Object] - 1:2`, or a parse error over several lines (first and last say it).
    const lines = (e as Error).message.split('\n');
    const why = lines.length > 1 ? `${lines[0]} ${lines.at(-1)}` : lines[0]!;
    return why.replace(/ in \[object Object\] - (\d+):(\d+)$/, ' (template line $1, column $2)');
  }
}

function compile(source: string): HandlebarsTemplateDelegate {
  let render = compiled.get(source);
  if (!render) {
    render = handlebars.compile(source, { noEscape: true, strict: true, knownHelpersOnly: true, knownHelpers: { if: true, unless: true } });
    compiled.set(source, render);
  }
  return render;
}
