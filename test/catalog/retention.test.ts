import { describe, expect, it } from 'vitest';
import { decideRetention, isoWeek, parseWithin, type RetentionCandidate } from '../../engine/catalog/retention.js';

/** One successful backup per listed UTC time, named after it. */
const backups = (...times: string[]): RetentionCandidate[] => times.map((t) => ({ name: t, time: new Date(t), sequence: 0, successful: true }));

/** The clock of the machine deciding: after every backup of these cases, so none is dated after it. */
const NOW = new Date('2030-01-01T00:00:00Z');
const decide = (candidates: RetentionCandidate[], policy: Parameters<typeof decideRetention>[1]) => decideRetention(candidates, policy, NOW);

describe('retention policy (borg prune semantics)', () => {
  it('keep-last keeps the N newest', () => {
    const d = decide(backups('2026-01-01T00:00:00Z', '2026-01-03T00:00:00Z', '2026-01-02T00:00:00Z'), { keepLast: 2 });
    expect(d.keep.map((k) => k.name)).toEqual(['2026-01-03T00:00:00Z', '2026-01-02T00:00:00Z']);
    expect(d.remove).toEqual(['2026-01-01T00:00:00Z']);
  });

  it('keep-daily keeps the newest backup of each of the last N days that have one', () => {
    const d = decide(
      backups('2026-01-05T23:00:00Z', '2026-01-05T01:00:00Z', '2026-01-04T12:00:00Z', '2026-01-02T12:00:00Z', '2026-01-02T06:00:00Z', '2026-01-01T00:00:00Z'),
      { keepDaily: 3 },
    );
    expect(d.keep).toEqual([
      { name: '2026-01-05T23:00:00Z', reasons: ['daily #1 (2026-01-05)', 'newest successful backup'] },
      { name: '2026-01-04T12:00:00Z', reasons: ['daily #2 (2026-01-04)'] },
      { name: '2026-01-02T12:00:00Z', reasons: ['daily #3 (2026-01-02)'] },
    ]);
    expect(d.remove).toEqual(['2026-01-05T01:00:00Z', '2026-01-02T06:00:00Z', '2026-01-01T00:00:00Z']);
  });

  it("a period rule keeps the period's newest successful backup, not a later partial one; a partial only when its period has no success", () => {
    const at = (t: string, successful: boolean): RetentionCandidate => ({ name: t, time: new Date(t), sequence: 0, successful });
    // The tester's target: on Dec 5 a success at 02:00 and a partial at 03:00; Dec 4 only a partial.
    const d = decide(
      [at('2026-12-06T02:00:00Z', true), at('2026-12-05T03:00:00Z', false), at('2026-12-05T02:00:00Z', true), at('2026-12-04T02:00:00Z', false)],
      { keepDaily: 7 },
    );
    expect(Object.fromEntries(d.keep.map((k) => [k.name, k.reasons]))).toEqual({
      '2026-12-06T02:00:00Z': ['daily #1 (2026-12-06)', 'newest successful backup'],
      '2026-12-05T02:00:00Z': ['daily #2 (2026-12-05)'],
      '2026-12-04T02:00:00Z': ['daily #3 (2026-12-04)'],
    });
    expect(d.remove).toEqual(['2026-12-05T03:00:00Z']);
  });

  it('later rules skip backups kept by earlier ones but still consume their period (as borg)', () => {
    // Daily keeps Jan 10 and Jan 9; weekly then sees week 2 (Jan 10's week) as taken and keeps the next weeks.
    const d = decide(backups('2026-01-10T00:00:00Z', '2026-01-09T00:00:00Z', '2026-01-04T00:00:00Z', '2025-12-28T00:00:00Z'), {
      keepDaily: 2,
      keepWeekly: 2,
    });
    expect(Object.fromEntries(d.keep.map((k) => [k.name, k.reasons[0]]))).toEqual({
      '2026-01-10T00:00:00Z': 'daily #1 (2026-01-10)',
      '2026-01-09T00:00:00Z': 'daily #2 (2026-01-09)',
      '2026-01-04T00:00:00Z': 'weekly #1 (2026-W01)',
      '2025-12-28T00:00:00Z': 'weekly #2 (2025-W52)',
    });
  });

  it('a rule that runs out of backups keeps the oldest one too', () => {
    const d = decide(backups('2026-03-01T00:00:00Z', '2026-03-01T01:00:00Z', '2026-02-01T00:00:00Z'), { keepMonthly: 5 });
    expect(d.keep.map((k) => k.reasons[0])).toEqual(['monthly #1 (2026-03)', 'monthly #2 (2026-02)']);
    expect(d.remove).toEqual(['2026-03-01T00:00:00Z']);
    const one = decide(backups('2026-03-02T00:00:00Z', '2026-03-01T00:00:00Z'), { keepMonthly: 2 });
    expect(one.keep.map((k) => k.reasons[0])).toEqual(['monthly #1 (2026-03)', 'monthly #2 (oldest)']);
  });

  it('never removes the newest successful backup, even when the rules would', () => {
    const list: RetentionCandidate[] = [
      { name: 'partial-new', time: new Date('2026-01-03T00:00:00Z'), sequence: 0, successful: false },
      { name: 'ok-old', time: new Date('2026-01-01T00:00:00Z'), sequence: 0, successful: true },
    ];
    const d = decide(list, { keepLast: 1 });
    expect(d.keep).toEqual([
      { name: 'partial-new', reasons: ['last #1'] },
      { name: 'ok-old', reasons: ['newest successful backup'] },
    ]);
    expect(d.remove).toEqual([]);
  });

  it('keeps the newest backup when statuses are unknown (encrypted metadata, no key)', () => {
    const list = backups('2026-01-02T00:00:00Z', '2026-01-01T00:00:00Z').map((b) => ({ ...b, successful: undefined }));
    const d = decide(list, { keepMonthly: 0, keepDaily: 0, keepLast: 0 });
    expect(d.keep).toEqual([{ name: '2026-01-02T00:00:00Z', reasons: ['newest backup (status unknown)'] }]);
  });

  it('orders backups of the same second by their collision suffix', () => {
    const same = new Date('2026-01-01T00:00:00Z');
    const d = decide(
      [
        { name: 'a', time: same, sequence: 0, successful: true },
        { name: 'a_1', time: same, sequence: 1, successful: true },
      ],
      { keepLast: 1 },
    );
    expect(d.keep.map((k) => k.name)).toEqual(['a_1']);
  });

  it('of a backup and its renamed copy (same recorded time), keeps the one whose name agrees with its metadata', () => {
    const same = new Date('2026-01-01T00:00:00Z');
    const copy = { name: 'lsbackup-c-20991231T000000Z.tar.gz', time: same, sequence: 0, renamed: true, successful: true };
    const real = { name: 'lsbackup-c-20260101T000000Z.tar.gz', time: same, sequence: 0, successful: true };
    for (const order of [
      [copy, real],
      [real, copy],
    ]) {
      expect(decide(order, { keepLast: 1 }).remove).toEqual([copy.name]);
    }
  });

  it('keep-hourly keeps the newest backup of each of the last N UTC hours, across a day boundary', () => {
    const d = decide(backups('2026-01-02T00:40:00Z', '2026-01-02T00:10:00Z', '2026-01-01T23:59:00Z', '2026-01-01T23:05:00Z', '2026-01-01T22:30:00Z'), {
      keepHourly: 2,
    });
    expect(d.keep).toEqual([
      { name: '2026-01-02T00:40:00Z', reasons: ['hourly #1 (2026-01-02T00)', 'newest successful backup'] },
      { name: '2026-01-01T23:59:00Z', reasons: ['hourly #2 (2026-01-01T23)'] },
    ]);
    expect(d.remove).toEqual(['2026-01-02T00:10:00Z', '2026-01-01T23:05:00Z', '2026-01-01T22:30:00Z']);
  });

  it('keep-yearly keeps the newest backup of each of the last N years, after the monthly rule took its share', () => {
    const d = decide(
      backups('2027-01-01T00:30:00Z', '2026-12-31T23:30:00Z', '2026-06-01T00:00:00Z', '2025-12-31T23:59:59Z', '2025-01-01T00:00:00Z', '2024-07-01T00:00:00Z'),
      { keepMonthly: 1, keepYearly: 2 },
    );
    expect(Object.fromEntries(d.keep.map((k) => [k.name, k.reasons[0]]))).toEqual({
      '2027-01-01T00:30:00Z': 'monthly #1 (2027-01)',
      // 2027 was seen (its newest already kept): the yearly rule keeps the newest of 2026 and 2025.
      '2026-12-31T23:30:00Z': 'yearly #1 (2026)',
      '2025-12-31T23:59:59Z': 'yearly #2 (2025)',
    });
    expect(d.remove).toEqual(['2026-06-01T00:00:00Z', '2025-01-01T00:00:00Z', '2024-07-01T00:00:00Z']);
  });

  it('a backup dated after the clock (more than an hour) is kept and left out of the rules: a clock set back keeps pruning by the others', () => {
    // This machine's clock is behind two backups made before it was set back.
    const now = new Date('2025-03-10T12:00:00Z');
    const d = decideRetention(
      backups('2026-12-06T01:00:00Z', '2026-12-06T00:00:00Z', '2025-03-10T12:30:00Z', '2025-03-09T12:00:00Z', '2025-03-08T12:00:00Z'),
      { keepLast: 2 },
      now,
    );
    expect(d.keep.map((k) => [k.name, k.reasons[0]])).toEqual([
      ['2026-12-06T01:00:00Z', "dated after this machine's clock: left out of the rules (2025-03-10T12:00:00.000Z)"],
      ['2026-12-06T00:00:00Z', "dated after this machine's clock: left out of the rules (2025-03-10T12:00:00.000Z)"],
      // Within the hour of tolerance: counted as the newest.
      ['2025-03-10T12:30:00Z', 'last #1'],
      ['2025-03-09T12:00:00Z', 'last #2'],
    ]);
    expect(d.remove).toEqual(['2025-03-08T12:00:00Z']);
    const within = decideRetention(backups('2026-12-06T00:00:00Z', '2025-03-10T11:00:00Z', '2025-03-01T00:00:00Z'), { keepWithin: '7d' }, now);
    expect(within.keep.map((k) => k.name)).toEqual(['2026-12-06T00:00:00Z', '2025-03-10T11:00:00Z']);
    expect(within.remove).toEqual(['2025-03-01T00:00:00Z']);
  });

  it('keep-within keeps every backup younger than the interval, counted back from the newest backup', () => {
    // Counted from the newest (2026-03-10), not from today: a job that stopped keeps its last week.
    const d = decide(backups('2026-03-10T12:00:00Z', '2026-03-05T00:00:00Z', '2026-03-03T12:00:01Z', '2026-03-03T12:00:00Z', '2026-02-01T00:00:00Z'), {
      keepWithin: '7d',
    });
    expect(d.keep.map((k) => [k.name, k.reasons[0]])).toEqual([
      ['2026-03-10T12:00:00Z', 'within 7d of the newest'],
      ['2026-03-05T00:00:00Z', 'within 7d of the newest'],
      ['2026-03-03T12:00:01Z', 'within 7d of the newest'],
    ]);
    expect(d.remove).toEqual(['2026-03-03T12:00:00Z', '2026-02-01T00:00:00Z']);
    expect(decide(backups('2026-03-10T12:00:00Z', '2026-03-10T01:00:00Z', '2026-03-09T23:00:00Z'), { keepWithin: '12h' }).remove).toEqual([
      '2026-03-09T23:00:00Z',
    ]);
    expect(parseWithin('2w')).toBe(14 * 86_400_000);
    expect(parseWithin('1y')).toBe(365 * 86_400_000);
    for (const bad of ['7', 'd', '0d', '7days', '-1d', '1.5d']) expect(parseWithin(bad)).toBeUndefined();
  });

  it('computes ISO weeks across year boundaries', () => {
    expect(isoWeek(new Date('2026-01-01T00:00:00Z'))).toBe('2026-W01'); // a Thursday
    expect(isoWeek(new Date('2027-01-01T00:00:00Z'))).toBe('2026-W53'); // a Friday
    expect(isoWeek(new Date('2024-12-30T00:00:00Z'))).toBe('2025-W01'); // a Monday
  });
});
