/**
 * The scheduler's crons against the machine's clock, on vitest's fake clock: Date is set like an
 * operator's `date -s` or NTP's step would, while the timers (monotonic) run on as they do.
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect, it, vi } from 'vitest';
import { Timetable } from '../../engine/schedule/timetable.js';

const HOUR = 3600_000;
let zone: string | undefined;
beforeAll(() => {
  zone = process.env.TZ;
  process.env.TZ = 'UTC'; // the crons are in the machine's time zone
});
afterAll(() => {
  if (zone === undefined) delete process.env.TZ;
  else process.env.TZ = zone;
});

let fired: string[];
let setBack: { byHours: number; jobs: string[] }[];
let timetable: Timetable;
beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date('2026-12-07T01:59:00Z'));
  fired = [];
  setBack = [];
  timetable = new Timetable(
    (name) => fired.push(`${name} ${new Date().toISOString()}`),
    (byMs, jobs) => setBack.push({ byHours: Math.round(byMs / HOUR), jobs }),
  );
});
afterEach(() => {
  timetable.stop();
  vi.useRealTimers();
});

const setClock = (deltaMs: number) => vi.setSystemTime(new Date(Date.now() + deltaMs));

it('a clock set back by a day (NTP correcting a wrong hardware clock): the jobs go on from the new time, and it is said', async () => {
  timetable.set('hourly', '0 * * * *');
  timetable.set('nightly', '30 2 * * *');
  await vi.advanceTimersByTimeAsync(62 * 60_000);
  expect(fired).toEqual(['hourly 2026-12-07T02:00:00.000Z', 'nightly 2026-12-07T02:30:00.000Z', 'hourly 2026-12-07T03:00:00.000Z']);
  setClock(-24 * HOUR); // 2026-12-06T03:01
  await vi.advanceTimersByTimeAsync(2 * HOUR);
  // Was: nothing until the clock reached 2026-12-07T04:00 again, a day without a backup and without a word.
  expect(fired.slice(3)).toEqual(['hourly 2026-12-06T04:00:00.000Z', 'hourly 2026-12-06T05:00:00.000Z']);
  expect(setBack).toEqual([{ byHours: 24, jobs: ['hourly', 'nightly'] }]);
  expect(timetable.next('nightly')).toBe('2026-12-07T02:30:00.000Z');
});

it('a clock set back by 10 minutes right after a tick does not run that tick again', async () => {
  timetable.set('nightly', '0 2 * * *');
  await vi.advanceTimersByTimeAsync(6 * 60_000); // 02:05
  expect(fired).toEqual(['nightly 2026-12-07T02:00:00.000Z']);
  setClock(-10 * 60_000); // 01:55: 02:00 comes round again
  await vi.advanceTimersByTimeAsync(HOUR);
  expect(fired).toEqual(['nightly 2026-12-07T02:00:00.000Z']);
  expect(setBack).toEqual([]);
  await vi.advanceTimersByTimeAsync(24 * HOUR);
  expect(fired).toEqual(['nightly 2026-12-07T02:00:00.000Z', 'nightly 2026-12-08T02:00:00.000Z']);
});

it('a machine asleep over a tick runs it once when it wakes, then keeps to the timetable', async () => {
  timetable.set('nightly', '0 2 * * *');
  // Suspended at 01:59 for 6 hours: the wall clock jumps, the monotonic timers stood still.
  setClock(6 * HOUR);
  await vi.advanceTimersByTimeAsync(30_000);
  expect(fired).toEqual(['nightly 2026-12-07T07:59:30.000Z']);
  await vi.advanceTimersByTimeAsync(24 * HOUR);
  expect(fired).toEqual(['nightly 2026-12-07T07:59:30.000Z', 'nightly 2026-12-08T02:00:00.000Z']);
  expect(setBack).toEqual([]);
});
