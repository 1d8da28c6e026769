/**
 * Which backups a retention policy keeps: borg's `prune` semantics as a pure function.
 *
 * Backups are taken newest first. `keepWithin` keeps every backup younger than the interval,
 * counted back from the newest backup (as restic does: a job that stopped running does not
 * age its last backups out). `keepLast` keeps the N newest. Then each period rule (hourly,
 * daily, weekly, monthly, yearly) walks all backups and keeps the newest successful backup of
 * each period (UTC hour, day, ISO week, month, year; its newest backup when none succeeded)
 * not already kept by an earlier rule, until it has N; a period whose pick was already kept
 * still counts as seen (borg does the same). When a rule
 * runs out of backups before N, it also keeps the oldest one ("oldest" in the reason).
 * Finally the newest successful backup is always kept, whatever the rules say.
 *
 * A backup dated after `now` (this machine's clock, with FUTURE_TOLERANCE_MS for clocks of
 * several machines writing one target) is kept and left out of the rules: either it was made
 * by a clock set ahead or this clock is behind (a dead RTC battery, no NTP). Counted in, it was
 * "the newest" and every run's own new backup came after it in the order, so each run pruned
 * the backup it had just made (keepWithin, keepLast) and said success.
 */
import { newestFirst, type Ordered } from './order.js';

export type { RetentionPolicy } from '../shapes/config.generated.js';
import type { RetentionPolicy } from '../shapes/config.generated.js';

/** One backup of one group (cluster and job): `time` is the start time its metadata records. */
export interface RetentionCandidate extends Ordered {
  name: string;
  /** true: status success; false: partial/failed; undefined: status unknown. */
  successful?: boolean;
}

export interface RetentionDecision {
  /** Newest first, each with why it is kept. */
  keep: { name: string; reasons: string[] }[];
  /** Newest first. */
  remove: string[];
}

type Period = (d: Date) => string;

const RULES: { key: Exclude<keyof RetentionPolicy, 'keepWithin'>; label: string; period: Period }[] = [
  { key: 'keepHourly', label: 'hourly', period: (d) => d.toISOString().slice(0, 13) },
  { key: 'keepDaily', label: 'daily', period: (d) => d.toISOString().slice(0, 10) },
  { key: 'keepWeekly', label: 'weekly', period: isoWeek },
  { key: 'keepMonthly', label: 'monthly', period: (d) => d.toISOString().slice(0, 7) },
  { key: 'keepYearly', label: 'yearly', period: (d) => d.toISOString().slice(0, 4) },
];

/** Seconds per unit of a `keepWithin` interval (borg's units: a month is 31 days, a year 365). */
const WITHIN_UNITS: Record<string, number> = { h: 3600, d: 86_400, w: 7 * 86_400, m: 31 * 86_400, y: 365 * 86_400 };

/** `7d` → milliseconds; undefined for anything else (the schema and the --keep-within parser reject it first). */
export function parseWithin(interval: string): number | undefined {
  const m = /^([1-9][0-9]*)([hdwmy])$/.exec(interval);
  return m ? Number(m[1]) * WITHIN_UNITS[m[2]!]! * 1000 : undefined;
}

export function hasRules(policy: RetentionPolicy): boolean {
  return policy.keepWithin !== undefined || Object.values(policy).some((n) => typeof n === 'number' && n > 0);
}

/** How far after this machine's clock a backup may be dated and still be counted (clocks of machines sharing a target differ a little). */
export const FUTURE_TOLERANCE_MS = 60 * 60 * 1000;

/** The reason a backup dated after the clock is kept (jobs/retention.ts warns about them). */
export const AFTER_CLOCK_REASON = "dated after this machine's clock: left out of the rules";

/** The decision only: catalog/prune.ts deletes what it removes (and jobs/retention.ts after a job's run). */
export function decideRetention(candidates: RetentionCandidate[], policy: RetentionPolicy, now: Date = new Date()): RetentionDecision {
  const horizon = now.getTime() + FUTURE_TOLERANCE_MS;
  const all = [...candidates].sort(newestFirst);
  const sorted = all.filter((c) => c.time.getTime() <= horizon);
  const reasons = new Map<string, string[]>();
  const keep = (c: RetentionCandidate, reason: string) => reasons.set(c.name, [...(reasons.get(c.name) ?? []), reason]);
  for (const c of all) if (c.time.getTime() > horizon) keep(c, `${AFTER_CLOCK_REASON} (${now.toISOString()})`);

  const withinMs = policy.keepWithin === undefined ? undefined : parseWithin(policy.keepWithin);
  if (withinMs !== undefined && sorted[0]) {
    const since = sorted[0].time.getTime() - withinMs;
    for (const c of sorted) if (c.time.getTime() > since) keep(c, `within ${policy.keepWithin} of the newest`);
  }
  sorted.slice(0, policy.keepLast ?? 0).forEach((c, i) => keep(c, `last #${i + 1}`));
  for (const rule of RULES) {
    const n = policy[rule.key] ?? 0;
    if (n <= 0) continue;
    let kept = 0;
    for (const [period, members] of byPeriod(sorted, rule.period)) {
      // The period's newest successful backup, not a later partial or failed one (that would leave
      // the day to a backup missing components, and delete the one that has them all).
      const c = members.find((m) => m.successful === true) ?? members[0]!;
      if (reasons.has(c.name)) continue;
      keep(c, `${rule.label} #${++kept} (${period})`);
      if (kept === n) break;
    }
    const oldest = sorted.at(-1);
    if (oldest && kept < n && !reasons.has(oldest.name)) keep(oldest, `${rule.label} #${kept + 1} (oldest)`);
  }
  const newestGood = sorted.find((c) => c.successful === true) ?? (sorted.some((c) => c.successful === undefined) ? sorted[0] : undefined);
  if (newestGood) keep(newestGood, newestGood.successful ? 'newest successful backup' : 'newest backup (status unknown)');

  return {
    keep: all.filter((c) => reasons.has(c.name)).map((c) => ({ name: c.name, reasons: reasons.get(c.name)! })),
    remove: all.filter((c) => !reasons.has(c.name)).map((c) => c.name),
  };
}

/** `sorted` (newest first) cut into its periods, newest first, each with its backups newest first. */
function byPeriod(sorted: RetentionCandidate[], period: Period): [string, RetentionCandidate[]][] {
  const periods: [string, RetentionCandidate[]][] = [];
  for (const c of sorted) {
    const p = period(c.time);
    if (periods.at(-1)?.[0] === p) periods.at(-1)![1].push(c);
    else periods.push([p, [c]]);
  }
  return periods;
}

/** ISO 8601 week of a UTC date: "2026-W01" (weeks start on Monday; week 1 holds the first Thursday). */
export function isoWeek(date: Date): string {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const weekday = d.getUTCDay() || 7;
  d.setUTCDate(d.getUTCDate() + 4 - weekday); // the Thursday of this week decides the year
  const yearStart = Date.UTC(d.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((d.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${d.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}
